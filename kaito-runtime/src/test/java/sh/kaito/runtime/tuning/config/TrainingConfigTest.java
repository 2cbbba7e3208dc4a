package sh.kaito.runtime.tuning.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingConfigTest {

  /** Upstream's charts/kaito/workspace/templates/lora-params.yaml, as the ConfigMap holds it. */
  static final String LORA_TEMPLATE =
      """
      training_config:
        ModelConfig:
          torch_dtype: "bfloat16"
          local_files_only: true
          device_map: "auto"
          # chat_template: "/workspace/chat_templates/phi-3.jinja"

        QuantizationConfig:
          load_in_4bit: false

        LoraConfig:
          r: 8
          lora_alpha: 8
          lora_dropout: 0.0

        TrainingArguments:
          output_dir: "/mnt/results"
          # num_train_epochs: <Defaults to 3, adjustable>
          ddp_find_unused_parameters: false
          save_strategy: "no"
          per_device_train_batch_size: 1

        DataCollator:
          mlm: true

        DatasetConfig:
          shuffle_dataset: true
          train_test_split: 1
      """;

  /** Upstream's qlora-params.yaml: the lora template with a 4-bit QuantizationConfig. */
  static final String QLORA_TEMPLATE =
      LORA_TEMPLATE.replace(
          "    load_in_4bit: false\n",
          """
              load_in_4bit: true
              bnb_4bit_quant_type: "nf4"
              bnb_4bit_compute_dtype: "bfloat16"
              bnb_4bit_use_double_quant: true
          """);

  @Test
  void upstreamLoraTemplateParsesWithUpstreamDefaults() {
    TrainingConfig c = TrainingConfig.parse(LORA_TEMPLATE, null);
    assertThat(c.training().outputDir()).isEqualTo(Path.of("/mnt/results"));
    assertThat(c.training().perDeviceTrainBatchSize()).isEqualTo(1);
    assertThat(c.training().saveStrategy()).isEqualTo("no");
    // SFTConfig / TrainingArguments defaults
    assertThat(c.training().numTrainEpochs()).isEqualTo(3.0);
    assertThat(c.training().maxSteps()).isEqualTo(-1);
    assertThat(c.training().learningRate()).isEqualTo(2e-5);
    assertThat(c.training().maxLength()).isEqualTo(1024);
    assertThat(c.training().loggingSteps()).isEqualTo(10);
    assertThat(c.training().lrSchedulerType()).isEqualTo("linear");
    assertThat(c.training().seed()).isEqualTo(42);
    assertThat(c.training().completionOnlyLoss()).isNull();
    assertThat(c.training().assistantOnlyLoss()).isFalse();
    assertThat(c.training().halfPrecision()).isTrue();
    assertThat(c.lora().r()).isEqualTo(8);
    assertThat(c.lora().scaling()).isEqualTo(1.0);
    assertThat(c.lora().targetModules()).isNull();
    assertThat(c.dataset().shuffle()).isTrue();
    assertThat(c.dataset().shuffleSeed()).isEqualTo(42);
    assertThat(c.dataset().trainTestSplit()).isEqualTo(1.0);
    assertThat(c.quantized()).isFalse();
    assertThat(c.notes())
        .anyMatch(n -> n.contains("torch_dtype=bfloat16") && n.contains("float32"))
        .anyMatch(n -> n.contains("mlm=true"));
  }

  @Test
  void upstreamQloraTemplateIsQuantized() {
    TrainingConfig c = TrainingConfig.parse(QLORA_TEMPLATE, null);
    assertThat(c.quantized()).isTrue();
    assertThat(c.quantization().quantType()).isEqualTo("nf4");
    assertThat(c.quantization().doubleQuant()).isTrue();
    assertThat(c.quantization().computeDtype()).isEqualTo("bfloat16");
  }

  @Test
  void valuesConvertAsHfArgumentParserDoes() {
    TrainingConfig c =
        TrainingConfig.parse(
            """
            training_config:
              LoraConfig:
                r: "16"
                lora_alpha: 32
                use_rslora: "yes"
                target_modules: q_proj
              TrainingArguments:
                learning_rate: 2e-4
                warmup_ratio: "0.1"
                bf16: false
                max_steps: 20
                logging_steps: 0.25
              DatasetConfig:
                train_test_split: 0.8
            """,
            List.of("k_proj", "v_proj"));
    assertThat(c.lora().r()).isEqualTo(16);
    assertThat(c.lora().targetModules()).containsExactly("q_proj");
    assertThat(c.lora().scaling()).isCloseTo(32 / 4.0, within(1e-12)); // rsLoRA: alpha / sqrt(r)
    assertThat(c.training().learningRate()).isEqualTo(2e-4);
    assertThat(c.training().halfPrecision()).isFalse();
    assertThat(c.training().totalSteps(1000)).isEqualTo(20);
    assertThat(c.training().warmupSteps(20)).isEqualTo(2);
    assertThat(c.training().loggingInterval(20)).isEqualTo(5);
  }

  @Test
  void defaultTargetModulesComeFromTheEnvironmentVariableAsUpstreamSplitsIt() {
    assertThat(LoraSettings.targetModulesFromEnvironment(" k_proj, q_proj ,v_proj"))
        .containsExactly("k_proj", "q_proj", "v_proj");
    assertThat(LoraSettings.targetModulesFromEnvironment("")).isNull();
    assertThat(LoraSettings.targetModulesFromEnvironment(null)).isNull();
  }

  @Test
  void defaultTargetModulesApplyWhenTheConfigNamesNone() {
    assertThat(TrainingConfig.defaults(List.of("qkv_proj", "o_proj")).lora().targetModules())
        .containsExactly("qkv_proj", "o_proj");
  }

  @Test
  void stepsFollowTransformersCounting() {
    TrainingArguments t =
        TrainingConfig.parse(
                """
                training_config:
                  TrainingArguments:
                    per_device_train_batch_size: 2
                    gradient_accumulation_steps: 2
                    num_train_epochs: 1.5
                """,
                null)
            .training();
    // 9 examples: 5 batches; 5 // 2 + 1 = 3 updates per epoch; ceil(1.5 * 3) = 5 steps
    assertThat(t.updateStepsPerEpoch(9)).isEqualTo(3);
    assertThat(t.totalSteps(9)).isEqualTo(5);
  }

  @Test
  void keysAndValuesItCannotHonourAreNamed() {
    assertRejected("TrainingArguments:\n    packing: true", "TrainingArguments.packing");
    assertRejected("TrainingArguments:\n    no_such_option: 1", "TrainingArguments.no_such_option");
    assertRejected("LoraConfig:\n    use_dora: true", "LoraConfig.use_dora");
    assertRejected("LoraConfig:\n    r: 8.5", "LoraConfig.r: expected an integer");
    assertRejected(
        "TrainingArguments:\n    lr_scheduler_type: polynomial",
        "TrainingArguments.lr_scheduler_type: 'polynomial'");
    assertRejected("ModelConfig:\n    torch_dtype: int8", "ModelConfig.torch_dtype");
    assertRejected(
        "QuantizationConfig:\n    load_in_8bit: true", "QuantizationConfig.load_in_8bit");
    assertRejected("DatasetConfig:\n    train_test_split: 0", "DatasetConfig.train_test_split");
    assertRejected(
        "DatasetConfig:\n    messages_column: conversation", "DatasetConfig.messages_column");
    assertRejected("Trainer:\n    x: 1", "training_config.Trainer: unknown section");
    assertRejected(
        "TrainingArguments:\n    lr_scheduler_kwargs:\n      min_lr: 0.1",
        "TrainingArguments.lr_scheduler_kwargs: a nested map");
    assertRejected(
        "TrainingArguments:\n    bf16: maybe", "TrainingArguments.bf16: expected a boolean");
  }

  @Test
  void inlineChatTemplateDecodesEscapesAndAFileIsRead(@TempDir Path dir) throws Exception {
    TrainingConfig inline =
        TrainingConfig.parse(
            "training_config:\n  ModelConfig:\n    chat_template: \"{{ 'a\\\\nb' }}\\\\n\"\n",
            null);
    assertThat(inline.chatTemplateOverride()).isEqualTo("{{ 'a\nb' }}\n");
    Path file = Files.writeString(dir.resolve("t.jinja"), "{{ messages }}");
    TrainingConfig fromFile =
        TrainingConfig.parse(
            "training_config:\n  ModelConfig:\n    chat_template: " + file + "\n", null);
    assertThat(fromFile.chatTemplateOverride()).isEqualTo("{{ messages }}");
    assertThatThrownBy(
            () ->
                TrainingConfig.parse(
                    "training_config:\n  ModelConfig:\n    chat_template: /nope.jinja\n", null))
        .isInstanceOf(TrainingConfigException.class)
        .hasMessageContaining("ModelConfig.chat_template: no such file: /nope.jinja");
  }

  @Test
  void aFileErrorNamesTheFile(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("training_config.yaml"), "training_config: [1]\n");
    assertThatThrownBy(() -> TrainingConfig.load(file, null))
        .isInstanceOf(TrainingConfigException.class)
        .hasMessageStartingWith(file + ": training_config");
  }

  private static void assertRejected(String sectionYaml, String expected) {
    String yaml = "training_config:\n  " + sectionYaml.replace("\n", "\n  ") + "\n";
    assertThatThrownBy(() -> TrainingConfig.parse(yaml, null))
        .as(yaml)
        .isInstanceOf(TrainingConfigException.class)
        .hasMessageContaining(expected);
  }
}
