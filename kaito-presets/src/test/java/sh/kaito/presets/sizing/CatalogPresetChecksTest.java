package sh.kaito.presets.sizing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.DataSource;
import sh.kaito.api.v1beta1.PresetOptions;
import sh.kaito.api.v1beta1.PresetSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceAnnotations;
import sh.kaito.api.v1beta1.WorkspaceBuilder;
import sh.kaito.api.validation.PresetChecks;
import sh.kaito.api.validation.ValidationOptions;
import sh.kaito.api.validation.ValidationResult;
import sh.kaito.api.validation.WorkspaceValidator;

/** The catalog and sizing through kaito-api's validator, as the webhook and controller run it. */
class CatalogPresetChecksTest {

  private final WorkspaceValidator validator =
      new WorkspaceValidator(ValidationOptions.defaults(), CatalogPresetChecks.azure());

  private static WorkspaceBuilder inference(String preset, String instanceType) {
    return new WorkspaceBuilder("ws")
        .namespace("default")
        .instanceType(instanceType)
        .matchLabel("apps", "test")
        .inferencePreset(preset);
  }

  private ValidationResult create(WorkspaceBuilder ws) {
    return validator.validateCreate(ws.build());
  }

  @Test
  void phi3MiniOnNc6sV3Passes() {
    ValidationResult r = create(inference("phi-3-mini-128k-instruct", "Standard_NC6s_v3"));
    assertThat(r.isValid()).as(r.message()).isTrue();
    assertThat(r.warnings()).isEmpty();
  }

  @Test
  void phi3MediumOnNc6sV3FailsWithUpstreamsMessage() {
    ValidationResult r = create(inference("phi-3-medium-128k-instruct", "Standard_NC6s_v3"));
    assertThat(r.isValid()).isFalse();
    // kaito-api renders "<message>: <path>"; whether paths carry "spec." is its choice.
    assertThat(r.message())
        .startsWith(
            "invalid value: Insufficient total GPU memory: Instance type Standard_NC6s_v3 has a"
                + " total of 16Gi, but preset phi-3-medium-128k-instruct requires at least 28Gi: ")
        .endsWith("resource.instanceType");
    assertThat(r.errors()).hasSize(1);
  }

  @Test
  void bypassAnnotationTurnsTheFailureIntoAWarning() {
    ValidationResult r =
        create(
            inference("phi-3-medium-128k-instruct", "Standard_NC6s_v3")
                .annotation(WorkspaceAnnotations.BYPASS_RESOURCE_CHECKS, "true"));
    assertThat(r.isValid()).as(r.message()).isTrue();
    assertThat(r.warnings())
        .containsExactly(
            "Bypassing resource check: Insufficient total GPU memory detected but continuing due"
                + " to bypass flag. Instance type Standard_NC6s_v3 has a total of 16Gi, but preset"
                + " phi-3-medium-128k-instruct requires at least 28Gi");
  }

  @Test
  void unknownSkuFailsWithTheSupportedList() {
    ValidationResult r = create(inference("phi-3-mini-128k-instruct", "Standard_E4s_v5"));
    assertThat(r.message())
        .startsWith(
            "invalid value: Unsupported instance type Standard_E4s_v5. Supported SKUs:"
                + " [Standard_NC6s_v3 Standard_NC12s_v3 ")
        .endsWith("]: resource.instanceType");
    // The strict table rejects unlisted N-series names too; upstream's Azure rule only warns.
    assertThat(
            new WorkspaceValidator(ValidationOptions.defaults(), CatalogPresetChecks.strict())
                .validateCreate(inference("phi-3-mini-128k-instruct", "Standard_NC6s_v9").build())
                .message())
        .contains("Unsupported instance type Standard_NC6s_v9");
    ValidationResult lenient = create(inference("phi-3-mini-128k-instruct", "Standard_NC6s_v9"));
    assertThat(lenient.isValid()).isTrue();
    assertThat(lenient.warnings()).singleElement().asString().contains("GPU checks were skipped");
  }

  @Test
  void unknownAndDeprecatedPresetsFailWithTheirMessages() {
    assertThat(create(inference("gpt-9", "Standard_NC6s_v3")).message())
        .startsWith("invalid value: Unsupported inference preset name gpt-9: ")
        .endsWith("inference.presetName");
    assertThat(create(inference("phi-2", "Standard_NC6s_v3")).message())
        .contains("Model phi-2 is deprecated and no longer supported");
    assertThat(CatalogPresetChecks.azure().lookup("PHI-4"))
        .isEqualTo(PresetChecks.PresetLookup.SUPPORTED);
  }

  @Test
  void gatedModelNeedsAModelAccessSecretAndOthersRefuseOne() {
    assertThat(create(inference("llama-3.1-8b-instruct", "Standard_NC24ads_A100_v4")).message())
        .contains("This preset requires authentication and needs a modelAccessSecret");
    PresetSpec withSecret =
        new PresetSpec("phi-4", null, new PresetOptions(null, null, "hf-token"));
    Workspace ws =
        new WorkspaceBuilder("ws")
            .namespace("default")
            .instanceType("Standard_NC24ads_A100_v4")
            .matchLabel("apps", "test")
            .inferencePreset(withSecret)
            .build();
    assertThat(validator.validateCreate(ws).message())
        .contains("This preset does not require a modelAccessSecret");
  }

  @Test
  void twoNodesHaveEnoughTotalMemory() {
    ValidationResult r =
        create(inference("phi-3-medium-128k-instruct", "Standard_NC6s_v3").count(2));
    assertThat(r.isValid()).as(r.message()).isTrue();
  }

  private static WorkspaceBuilder tuning(String preset, String instanceType) {
    return new WorkspaceBuilder("ws")
        .namespace("default")
        .instanceType(instanceType)
        .matchLabel("apps", "test")
        .tuning(
            preset,
            "qlora",
            DataSource.ofUrls(List.of("https://example.com/data.parquet")),
            DataDestination.ofImage("myregistry.azurecr.io/adapter:0.0.1", "push-secret"));
  }

  @Test
  void tuningNeedsATunablePresetAndOnlyWarnsAboutMemory() {
    ValidationResult llama = create(tuning("llama-3.1-8b-instruct", "Standard_NC24ads_A100_v4"));
    assertThat(llama.message()).contains("Preset llama-3.1-8b-instruct does not support tuning");

    ValidationResult small = create(tuning("phi-3-mini-128k-instruct", "Standard_NC6s_v3"));
    assertThat(small.isValid()).as(small.message()).isTrue();
    assertThat(small.warnings())
        .anyMatch(w -> w.startsWith("Tuning: Insufficient total GPU memory"));

    ValidationResult a100 = create(tuning("phi-3-mini-128k-instruct", "Standard_NC24ads_A100_v4"));
    assertThat(a100.isValid()).as(a100.message()).isTrue();
    assertThat(a100.warnings()).isEmpty();
  }

  @Test
  void smolLm2IsSizedLikeAnyPresetAndTunable() {
    // the seed's instance type: 1 V100 of 16Gi covers the preset's tiny needs, with no warning
    ValidationResult serve = create(inference("smollm2-135m-instruct", "Standard_NC6s_v3"));
    assertThat(serve.isValid()).as(serve.message()).isTrue();
    assertThat(serve.warnings()).isEmpty();
    ValidationResult tune = create(tuning("smollm2-135m-instruct", "Standard_NC6s_v3"));
    assertThat(tune.isValid()).as(tune.message()).isTrue();
    assertThat(tune.warnings()).isEmpty();

    // a CPU-only instance type is not a GPU SKU: strict checks refuse it, as for any preset
    ValidationResult cpu =
        new WorkspaceValidator(ValidationOptions.defaults(), CatalogPresetChecks.strict())
            .validateCreate(inference("smollm2-135m-instruct", "Standard_D4s_v3").build());
    assertThat(cpu.isValid()).isFalse();
    assertThat(cpu.message()).contains("Unsupported instance type Standard_D4s_v3");
  }
}
