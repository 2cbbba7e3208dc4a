package sh.kaito.api.validation;

import java.util.Set;
import sh.kaito.api.v1beta1.Workspace;

/**
 * A stand-in for the preset catalog with a few names, so these tests check kaito-api's own rules.
 * The real catalog and its GPU sizing live in kaito-presets and are tested there.
 */
final class CatalogForTests implements PresetChecks {
  private static final Set<String> SUPPORTED =
      Set.of("phi-3-mini-128k-instruct", "phi-3-mini-4k-instruct", "phi-3-medium-128k-instruct");

  @Override
  public PresetLookup lookup(String presetName) {
    if (SUPPORTED.contains(presetName)) {
      return PresetLookup.SUPPORTED;
    }
    return presetName.equalsIgnoreCase("phi-2") ? PresetLookup.DEPRECATED : PresetLookup.UNKNOWN;
  }

  @Override
  public void checkInference(
      Workspace workspace, ValidationReport resource, ValidationReport inference) {}

  @Override
  public void checkTuning(
      Workspace workspace, ValidationReport resource, ValidationReport tuning) {}
}
