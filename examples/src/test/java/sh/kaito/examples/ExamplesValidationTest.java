package sh.kaito.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import sh.kaito.api.validation.ValidationOptions;
import sh.kaito.api.validation.ValidationResult;
import sh.kaito.api.validation.WorkspaceValidator;
import sh.kaito.api.yaml.KaitoYaml;
import sh.kaito.presets.sizing.CatalogPresetChecks;

/** The examples pass the webhook's rules, except the seed's placeholder output image. */
class ExamplesValidationTest {
  static final Path SEED = Path.of("fine-tuning/kaito_workspace_tuning_phi_3.yaml");
  static final WorkspaceValidator VALIDATOR =
      new WorkspaceValidator(ValidationOptions.defaults(), CatalogPresetChecks.azure());

  static List<Path> validExamples() throws IOException {
    return ExamplesRoundTripTest.examples().stream()
        .filter(p -> !p.normalize().equals(SEED.normalize()))
        .toList();
  }

  @ParameterizedTest
  @MethodSource("validExamples")
  void everyFilledInExamplePasses(Path example) {
    ValidationResult result = VALIDATOR.validateCreate(KaitoYaml.readWorkspace(example));
    assertThat(result.message()).isEmpty();
    assertThat(result.isValid()).isTrue();
  }

  /**
   * The seed's YAML carries placeholders ({@code ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1}):
   * upstream's webhook refuses that output image, and so do we, with the same words. The file is
   * kept byte for byte as the seed prints it.
   */
  @Test
  void theSeedsPlaceholderImageIsRefusedAsUpstreamRefusesIt() {
    ValidationResult result = VALIDATOR.validateCreate(KaitoYaml.readWorkspace(SEED));
    assertThat(result.message())
        .isEqualTo(
            "invalid value: Unable to parse output image reference: invalid reference format:"
                + " repository name (IMAGE_NAME_HERE) must be lowercase: tuning.Output.Image");
  }
}
