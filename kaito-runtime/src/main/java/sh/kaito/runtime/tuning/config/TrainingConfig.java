package sh.kaito.runtime.tuning.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import sh.kaito.api.validation.TrainingConfigRules;

/**
 * Upstream Kaito's {@code training_config.yaml}: root key {@code training_config} with the sections
 * {@code ModelConfig}, {@code QuantizationConfig}, {@code LoraConfig}, {@code TrainingArguments}
 * (TRL's {@code SFTConfig}), {@code DatasetConfig} and {@code DataCollator}, each optional and
 * defaulted as upstream's {@code cli.py} and TRL default it. Every key of upstream's lora and qlora
 * templates is accepted; a key or value this runtime cannot honour is a {@link
 * TrainingConfigException} naming it, never silently ignored.
 */
public record TrainingConfig(
    ModelSettings model,
    QuantizationSettings quantization,
    LoraSettings lora,
    TrainingArguments training,
    DatasetSettings dataset,
    CollatorSettings collator) {

  /** Upstream's sections, as the webhook (kaito-api) knows them. */
  private static final List<String> SECTIONS = TrainingConfigRules.SECTIONS;

  /** Every default: what upstream runs without a config file. */
  public static TrainingConfig defaults(List<String> defaultTargetModules) {
    return parse("training_config: {}\n", defaultTargetModules);
  }

  /** Reads {@code file}; errors name the file. */
  public static TrainingConfig load(Path file, List<String> defaultTargetModules)
      throws IOException {
    String text = Files.readString(file);
    try {
      return parse(text, defaultTargetModules);
    } catch (TrainingConfigException e) {
      throw new TrainingConfigException(file + ": " + e.getMessage(), e);
    }
  }

  /**
   * @param defaultTargetModules upstream's {@code DEFAULT_TARGET_MODULES} environment variable
   *     (comma-separated module names the controller sets per preset), split; or null
   */
  public static TrainingConfig parse(String yaml, List<String> defaultTargetModules) {
    JsonNode root;
    try {
      root = new YAMLMapper().readTree(yaml);
    } catch (JsonProcessingException e) {
      throw new TrainingConfigException(
          "not valid YAML: " + e.getOriginalMessage().lines().findFirst().orElse(""), e);
    }
    JsonNode config = null;
    if (root != null && !root.isNull() && !root.isMissingNode()) {
      if (!root.isObject()) {
        throw new TrainingConfigException("expected a map with the key training_config");
      }
      Iterator<String> keys = root.fieldNames();
      while (keys.hasNext()) {
        String key = keys.next();
        if (!key.equals("training_config")) {
          throw new TrainingConfigException(
              key + ": unknown root key (the config's root key is training_config)");
        }
      }
      config = root.get("training_config");
    }
    if (config != null && !config.isNull() && !config.isObject()) {
      throw new TrainingConfigException("training_config: expected a map of sections");
    }
    if (config != null && config.isObject()) {
      Iterator<String> names = config.fieldNames();
      while (names.hasNext()) {
        String name = names.next();
        if (!SECTIONS.contains(name)) {
          throw new TrainingConfigException(
              "training_config."
                  + name
                  + ": unknown section (sections: ModelConfig, QuantizationConfig, LoraConfig,"
                  + " TrainingArguments, DatasetConfig, DataCollator)");
        }
      }
    }
    JsonNode c = config == null ? null : config;
    Section model = section(c, "ModelConfig");
    Section quant = section(c, "QuantizationConfig");
    Section lora = section(c, "LoraConfig");
    Section training = section(c, "TrainingArguments");
    Section dataset = section(c, "DatasetConfig");
    Section collator = section(c, "DataCollator");
    TrainingConfig parsed =
        new TrainingConfig(
            ModelSettings.parse(model),
            QuantizationSettings.parse(quant),
            LoraSettings.parse(lora, defaultTargetModules),
            TrainingArguments.parse(training),
            DatasetSettings.parse(dataset),
            CollatorSettings.parse(collator));
    for (Section s : List.of(model, quant, lora, training, dataset, collator)) {
      s.finish();
    }
    return parsed;
  }

  private static Section section(JsonNode config, String name) {
    return new Section(name, config == null ? null : config.get(name));
  }

  /** QLoRA: the base weights are loaded in 4 bits. */
  public boolean quantized() {
    return quantization.loadIn4bit();
  }

  /**
   * The chat template that replaces the tokenizer's, or null: TRL's {@code chat_template_path} wins
   * over upstream's {@code ModelConfig.chat_template}, as TRL applies it later.
   */
  public String chatTemplateOverride() throws IOException {
    if (training.chatTemplatePath() != null) {
      Path p = Path.of(training.chatTemplatePath());
      if (!Files.isRegularFile(p)) {
        throw new TrainingConfigException(
            "TrainingArguments.chat_template_path: no such Jinja file: " + p);
      }
      return Files.readString(p);
    }
    return model.chatTemplate();
  }

  /**
   * What the run does differently from a GPU run of upstream, each a line to log once at start
   * (key=value style), e.g. half precision computed in float32.
   */
  public List<String> notes() {
    List<String> notes = new ArrayList<>();
    if (model.computesInFloat32Instead()) {
      notes.add(
          "ModelConfig.torch_dtype="
              + model.torchDtype()
              + " computes in float32 on the CPU (libtorch through DJL cannot hold bfloat16)");
    }
    if (training.halfPrecision()) {
      notes.add(
          "TrainingArguments.bf16/fp16 (mixed precision, on by default in SFTConfig) computes in"
              + " float32 on the CPU");
    }
    if (quantization.loadIn4bit() && !quantization.computeDtype().equals("float32")) {
      notes.add(
          "QuantizationConfig.bnb_4bit_compute_dtype="
              + quantization.computeDtype()
              + " computes in float32 on the CPU");
    }
    if (collator.mlmRequested()) {
      notes.add(
          "DataCollator.mlm=true turned off: the tokenizer has no mask token (as upstream does);"
              + " causal language modeling");
    }
    return notes;
  }
}
