package sh.kaito.presets.sizing;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import sh.kaito.api.v1beta1.InferenceSpec;
import sh.kaito.api.v1beta1.PresetSpec;
import sh.kaito.api.v1beta1.ResourceSpec;
import sh.kaito.api.v1beta1.TuningSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceAnnotations;
import sh.kaito.api.validation.PresetChecks;
import sh.kaito.api.validation.ValidationReport;
import sh.kaito.presets.catalog.GpuRequirements;
import sh.kaito.presets.catalog.ModelPreset;
import sh.kaito.presets.catalog.PresetCatalog;
import sh.kaito.presets.catalog.PresetMatch;
import sh.kaito.presets.sku.GpuSku;
import sh.kaito.presets.sku.SkuTable;

/**
 * The {@link PresetChecks} the webhook and the controller share: preset names from the catalog, the
 * instance type from the SKU table, and upstream's classic GPU checks ({@link ClassicSizing}),
 * which the {@code kaito.sh/bypass-resource-checks} annotation turns into warnings. No I/O.
 *
 * <p>With node auto-provisioning off (bring-your-own nodes, {@code instanceType} empty) the GPU
 * checks need node labels, which are I/O; they are left to the controller, as the estimator is.
 */
public final class CatalogPresetChecks implements PresetChecks {

  private static final String N_SERIES_PREFIX = "Standard_N";
  private static final String D_SERIES_PREFIX = "Standard_D";

  private final PresetCatalog catalog;
  private final SkuTable skus;
  private final boolean acceptUnlistedAzureSeries;

  /**
   * @param acceptUnlistedAzureSeries upstream's Azure rule: any {@code Standard_N*} or {@code
   *     Standard_D*} name not in the table is accepted, without GPU checks (a warning says so)
   */
  public CatalogPresetChecks(
      PresetCatalog catalog, SkuTable skus, boolean acceptUnlistedAzureSeries) {
    this.catalog = catalog;
    this.skus = skus;
    this.acceptUnlistedAzureSeries = acceptUnlistedAzureSeries;
  }

  /** The built-in catalog and the Azure table with upstream's Azure rule. */
  public static CatalogPresetChecks azure() {
    return new CatalogPresetChecks(PresetCatalog.builtIn(), SkuTable.azure(), true);
  }

  /** The built-in catalog and the Azure table; unlisted instance types are rejected. */
  public static CatalogPresetChecks strict() {
    return new CatalogPresetChecks(PresetCatalog.builtIn(), SkuTable.azure(), false);
  }

  @Override
  public PresetLookup lookup(String presetName) {
    PresetMatch match = catalog.lookup(presetName);
    if (match instanceof PresetMatch.Found) {
      return PresetLookup.SUPPORTED;
    }
    return match instanceof PresetMatch.Deprecated ? PresetLookup.DEPRECATED : PresetLookup.UNKNOWN;
  }

  @Override
  public void checkInference(
      Workspace workspace, ValidationReport resource, ValidationReport inference) {
    InferenceSpec spec = workspace.getInference();
    Optional<ModelPreset> preset =
        spec == null || spec.preset() == null
            ? Optional.empty()
            : catalog.find(spec.preset().name());
    preset.ifPresent(p -> checkModelAccessSecret(p, spec.preset(), inference));
    Optional<GpuSku> sku = instanceType(workspace, resource);
    if (sku.isPresent() && preset.isPresent()) {
      checkGpus(workspace, preset.get(), preset.get().inference().gpu(), sku.get(), resource);
    }
  }

  @Override
  public void checkTuning(Workspace workspace, ValidationReport resource, ValidationReport tuning) {
    TuningSpec spec = workspace.getTuning();
    if (spec == null || spec.preset() == null) {
      return;
    }
    Optional<ModelPreset> preset = catalog.find(spec.preset().name());
    if (preset.isEmpty()) {
      return; // the validator reports unknown names
    }
    if (!preset.get().supportsTuning()) {
      tuning.invalidValue(
          "Preset "
              + preset.get().name()
              + " does not support tuning; presets that do: "
              + String.join(", ", tunablePresets()),
          "presetName");
      return;
    }
    Optional<GpuSku> sku = instanceType(workspace, resource);
    if (sku.isPresent()) {
      // Upstream does not enforce tuning GPU memory in the webhook ("TODO: Here we perform the
      // tuning GPU Memory Checks!"), so a shortfall is a warning, never a rejection.
      String name = preset.get().name();
      int count = workspace.getResource().countOrDefault();
      for (SizingFinding f :
          ClassicSizing.check(name, preset.get().tuning().gpu(), sku.get(), count)) {
        resource.warning("Tuning: " + f.message());
      }
    }
  }

  private List<String> tunablePresets() {
    return catalog.supported().stream()
        .filter(ModelPreset::supportsTuning)
        .map(ModelPreset::name)
        .toList();
  }

  /** The instance type's SKU; empty (with an error or warning) when it is not in the table. */
  private Optional<GpuSku> instanceType(Workspace workspace, ValidationReport resource) {
    ResourceSpec spec = workspace.getResource();
    String type = spec == null || spec.instanceType() == null ? "" : spec.instanceType();
    if (type.isEmpty()) {
      return Optional.empty(); // bring-your-own nodes: the validator checks the NAP rules
    }
    Optional<GpuSku> sku = skus.find(type);
    if (sku.isPresent()) {
      return sku;
    }
    if (acceptUnlistedAzureSeries
        && (type.startsWith(N_SERIES_PREFIX) || type.startsWith(D_SERIES_PREFIX))) {
      resource.warning(
          "Instance type " + type + " is not in the GPU SKU table; GPU checks were skipped");
      return Optional.empty();
    }
    // Go prints a []string as [a b c].
    resource.invalidValue(
        "Unsupported instance type "
            + type
            + ". Supported SKUs: ["
            + String.join(" ", skus.names())
            + "]",
        "instanceType");
    return Optional.empty();
  }

  private static void checkGpus(
      Workspace workspace,
      ModelPreset preset,
      GpuRequirements required,
      GpuSku sku,
      ValidationReport resource) {
    boolean bypass =
        workspace.annotations().containsKey(WorkspaceAnnotations.BYPASS_RESOURCE_CHECKS);
    int count = workspace.getResource().countOrDefault();
    String name = preset.name().toLowerCase(Locale.ROOT);
    for (SizingFinding f : ClassicSizing.check(name, required, sku, count)) {
      if (bypass) {
        resource.warning(f.bypassWarning());
      } else {
        resource.invalidValue(f.message(), "instanceType");
      }
    }
  }

  private static void checkModelAccessSecret(
      ModelPreset preset, PresetSpec spec, ValidationReport inference) {
    String secret = spec.presetOptions() == null ? null : spec.presetOptions().modelAccessSecret();
    boolean hasSecret = secret != null && !secret.isEmpty();
    if (preset.downloadAtRuntime()) {
      if (preset.downloadAuthRequired() && !hasSecret) {
        inference.error(
            "This preset requires authentication and needs a modelAccessSecret with HF_TOKEN key"
                + " under presetOptions to download the model");
      }
    } else if (hasSecret) {
      inference.error(
          "This preset does not require a modelAccessSecret with HF_TOKEN key under presetOptions");
    }
  }
}
