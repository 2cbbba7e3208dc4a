package sh.kaito.runtime.tuning.config;

import java.util.List;

/**
 * The {@code LoraConfig} section (upstream's {@code cli.ExtLoraConfig}, a PEFT {@code LoraConfig}).
 *
 * @param targetModules PEFT's {@code target_modules} as given (a name matches a module whose name
 *     equals it or ends with {@code "." + name}), or null for PEFT's per-architecture default
 * @param bias {@code none}, {@code all} or {@code lora_only}
 * @param initLoraWeights true: PEFT's default init (A Kaiming-uniform, B zero); false: both A and B
 *     keep torch's {@code nn.Linear} default init, so the adapter starts non-zero
 * @param layersToTransform the layer indices to adapt, or null for all layers
 */
public record LoraSettings(
    int r,
    int loraAlpha,
    double loraDropout,
    List<String> targetModules,
    String bias,
    boolean useRslora,
    boolean initLoraWeights,
    List<Integer> layersToTransform) {

  /** PEFT's scaling of the LoRA product: alpha/r, or alpha/sqrt(r) with rsLoRA. */
  public double scaling() {
    return useRslora ? loraAlpha / Math.sqrt(r) : (double) loraAlpha / r;
  }

  /**
   * Upstream's {@code DEFAULT_TARGET_MODULES} environment variable as {@code cli.py} reads it:
   * comma-separated, each name stripped; null when unset or empty.
   */
  public static List<String> targetModulesFromEnvironment(String value) {
    if (value == null || value.isEmpty()) {
      return null;
    }
    return java.util.Arrays.stream(value.split(",", -1)).map(String::strip).toList();
  }

  /**
   * @param defaultTargetModules upstream's {@code DEFAULT_TARGET_MODULES} (the controller sets it
   *     per preset), or null
   */
  static LoraSettings parse(Section s, List<String> defaultTargetModules) {
    int r = s.integer("r", 8);
    if (r <= 0) {
      throw s.error("r", "must be a positive integer, got " + r);
    }
    int alpha = s.integer("lora_alpha", 8);
    double dropout = s.number("lora_dropout", 0.0);
    if (dropout < 0 || dropout >= 1) {
      throw s.error("lora_dropout", "must be in [0, 1), got " + dropout);
    }
    List<String> targets = s.strings("target_modules");
    if (targets == null) {
      targets = defaultTargetModules == null ? null : List.copyOf(defaultTargetModules);
    } else if (targets.isEmpty()) {
      throw s.error("target_modules", "an empty list adapts nothing");
    } else if (targets.stream().anyMatch(t -> t.equalsIgnoreCase("all-linear"))) {
      // upstream passes a list, and PEFT expands 'all-linear' only when given as a plain string
      throw s.error("target_modules", "'all-linear' is not supported; name the modules");
    }
    String bias = s.oneOf("bias", "none", "which biases train", "none", "all", "lora_only");
    boolean rslora = s.bool("use_rslora", false);
    boolean init = s.bool("init_lora_weights", true);
    List<Integer> layers = s.integers("layers_to_transform");
    s.onlyUnset("layers_pattern", "layers are found by their index in model.layers");
    s.onlyUnset("exclude_modules", "not supported");
    s.onlyUnset("modules_to_save", "only LoRA matrices are trained and saved");
    s.onlyUnset("rank_pattern", "one rank for every module");
    s.onlyUnset("alpha_pattern", "one alpha for every module");
    s.onlyUnset("megatron_config", "no Megatron layers");
    s.onlyUnset("layer_replication", "not supported");
    s.onlyUnset("trainable_token_indices", "not supported");
    s.onlyUnset("target_parameters", "not supported");
    s.onlyUnset("eva_config", "EVA initialisation is not supported");
    s.onlyUnset("corda_config", "CorDA initialisation is not supported");
    s.onlyBool("fan_in_fan_out", false, false, "the weights are stored as (out, in)");
    s.onlyBool("use_dora", false, false, "DoRA is not supported");
    s.onlyBool("use_qalora", false, false, "QALoRA is not supported");
    s.onlyBool("lora_bias", false, false, "LoRA bias terms are not supported");
    s.onlyBool("inference_mode", false, false, "the adapter is being trained");
    s.oneOf("task_type", "CAUSAL_LM", "the model is a causal LM", "CAUSAL_LM");
    s.noEffect(
        // Written into adapter_config.json by PEFT; no effect on training.
        "base_model_name_or_path",
        "revision",
        "peft_type",
        "megatron_core",
        "qalora_group_size",
        "runtime_config");
    return new LoraSettings(r, alpha, dropout, targets, bias, rslora, init, layers);
  }
}
