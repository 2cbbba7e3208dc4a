package sh.kaito.api.validation;

import sh.kaito.api.v1beta1.Workspace;

/**
 * The validation seam for rules that need the model catalog and the GPU SKU table. {@code
 * kaito-api} knows neither; {@code kaito-presets} implements this interface, and the webhook and
 * the controller pass that implementation to {@link WorkspaceValidator}, so both share one set of
 * rules.
 *
 * <p>Implementations must not do I/O: everything they need is in the catalog they were built with.
 */
public interface PresetChecks {

  /** What the catalog knows about a preset name. */
  enum PresetLookup {
    SUPPORTED,
    /** In the catalog but retired, e.g. {@code phi-2}. */
    DEPRECATED,
    UNKNOWN
  }

  /** Whether {@code presetName} (as written by the user) names a usable preset. */
  PresetLookup lookup(String presetName);

  /**
   * Checks an inference workspace being created whose preset (if any) {@link #lookup}s as {@code
   * SUPPORTED}: the instance type is known, and the preset fits its GPUs (count, per-GPU and total
   * memory) unless the {@code kaito.sh/bypass-resource-checks} annotation turns failures into
   * warnings; runtime, adapter and model-access-secret rules.
   *
   * @param resource report scoped to {@code resource} (upstream's paths, e.g. {@code instanceType})
   * @param inference report scoped to {@code inference}
   */
  void checkInference(Workspace workspace, ValidationReport resource, ValidationReport inference);

  /**
   * Checks a tuning workspace being created whose preset {@link #lookup}s as {@code SUPPORTED}: the
   * preset supports tuning with this method, and the instance type can hold it.
   *
   * @param resource report scoped to {@code resource}
   * @param tuning report scoped to {@code tuning}
   */
  void checkTuning(Workspace workspace, ValidationReport resource, ValidationReport tuning);

  /**
   * No catalog: every preset name is accepted and no sizing runs. For tools that only check the
   * shape of a workspace; the operator always uses the real catalog.
   */
  PresetChecks NONE =
      new PresetChecks() {
        @Override
        public PresetLookup lookup(String presetName) {
          return PresetLookup.SUPPORTED;
        }

        @Override
        public void checkInference(
            Workspace workspace, ValidationReport resource, ValidationReport inference) {}

        @Override
        public void checkTuning(
            Workspace workspace, ValidationReport resource, ValidationReport tuning) {}
      };
}
