package sh.kaito.api.validation;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sh.kaito.api.validation.TrainingConfigRules.OutputDir;

class TrainingConfigRulesTest {

  private static Map<String, String> config(String yaml) {
    return Map.of(TrainingConfigRules.KEY, yaml);
  }

  private static String check(String yaml, String method) {
    return TrainingConfigRules.validate("my-config", "ns", config(yaml), method).message();
  }

  @Test
  void upstreamDefaultTemplatesPassForTheirMethodAndResolveToMntResults() {
    String lora = TrainingConfigRules.defaultTemplate(TrainingConfigRules.DEFAULT_LORA_TEMPLATE);
    String qlora = TrainingConfigRules.defaultTemplate(TrainingConfigRules.DEFAULT_QLORA_TEMPLATE);
    assertThat(check(lora, "lora")).isEmpty();
    assertThat(check(qlora, "QLoRA")).isEmpty();
    assertThat(TrainingConfigRules.defaultTemplateName("QLORA"))
        .isEqualTo(TrainingConfigRules.DEFAULT_QLORA_TEMPLATE);
    assertThat(TrainingConfigRules.outputDir("x", "ns", config(lora)))
        .isEqualTo(new OutputDir.Resolved("/mnt/results"));
    // Each template refuses the other method, with upstream's messages.
    assertThat(check(lora, "qlora"))
        .isEqualTo(
            "missing field(s): For method 'qlora', either 'load_in_4bit' or 'load_in_8bit' must be"
                + " true in ConfigMap 'my-config', QuantizationConfig");
    assertThat(check(qlora, "lora"))
        .isEqualTo(
            "For method 'lora', 'load_in_4bit' or 'load_in_8bit' in ConfigMap 'my-config' must not"
                + " be true: QuantizationConfig");
  }

  @Test
  void upstreamMessagesForSectionsFlagsAndOutputDir() {
    assertThat(check("training_config:\n  Trainer: {}\n", "lora"))
        .isEqualTo("invalid value: Unrecognized section: Trainer: training_config.yaml");
    assertThat(check("training_config: 3\n", "lora"))
        .startsWith(
            "Failed to parse 'training_config.yaml' in ConfigMap 'my-config' in namespace 'ns': ")
        .contains("invalid value: Expected 'training_config' key to contain a map");
    assertThat(
            check(
                "training_config:\n"
                    + "  QuantizationConfig: {load_in_4bit: true, load_in_8bit: true}\n",
                "qlora"))
        .isEqualTo(
            "Cannot set both 'load_in_4bit' and 'load_in_8bit' to true in ConfigMap 'my-config':"
                + " QuantizationConfig");
    assertThat(check("training_config:\n  QuantizationConfig: {load_in_8bit: 1}\n", "qlora"))
        .isEqualTo(
            "invalid value: value must be either nil or a boolean, got type int: load_in_8bit");
    // YAML 1.1, as Go's yaml.v2: "yes" is a boolean.
    assertThat(check("training_config:\n  QuantizationConfig: {load_in_4bit: yes}\n", "qlora"))
        .isEmpty();
    assertThat(check("training_config:\n  TrainingArguments: {output_dir: 7}\n", "lora"))
        .isEqualTo(
            "invalid value: output_dir is not a string in ConfigMap 'my-config' in namespace 'ns':"
                + " output_dir");
    assertThat(check("training_config:\n  TrainingArguments: {output_dir: ../etc}\n", "lora"))
        .isEqualTo(
            "invalid value: Invalid output_dir specified: '../etc', must be a directory:"
                + " output_dir");
    assertThat(TrainingConfigRules.validate("c", "ns", Map.of("other.yaml", "x"), "lora").message())
        .contains("missing field(s): training_config.yaml in ConfigMap")
        .contains(
            "ConfigMap 'c' does not contain 'training_config.yaml' in namespace 'ns': config");
  }

  @ParameterizedTest(name = "output_dir {0} -> {1}")
  @CsvSource({
    "'', /mnt/output",
    "/mnt/results, /mnt/results",
    "results/run1, /mnt/results/run1",
    "/tmp/out, /mnt/tmp/out",
    "/mnt/a/../b, /mnt/b",
    "../../etc, invalid",
    "/mnt, invalid",
    "/mnt/.., invalid"
  })
  void outputDirIsResolvedUnderMntAsUpstreamDoes(String dir, String expected) {
    String yaml =
        dir.isEmpty()
            ? "training_config:\n  LoraConfig: {r: 8}\n"
            : "training_config:\n  TrainingArguments:\n    output_dir: \"" + dir + "\"\n";
    OutputDir got = TrainingConfigRules.outputDir("c", "ns", config(yaml));
    if (expected.equals("invalid")) {
      assertThat(got)
          .isEqualTo(
              new OutputDir.Invalid(
                  "invalid output_dir specified: '" + dir + "', must be a directory"));
    } else {
      assertThat(got).isEqualTo(new OutputDir.Resolved(expected));
    }
  }
}
