package sh.kaito.runtime.tuning.config;

import sh.kaito.runtime.quant.FourBitFormat;
import sh.kaito.runtime.quant.FourBitQuantizer;
import sh.kaito.runtime.quant.FourBitType;

/**
 * The {@code QuantizationConfig} section (upstream's {@code cli.QuantizationConfig}, a bitsandbytes
 * config): 4-bit loading makes the run QLoRA.
 *
 * @param quantType {@code nf4} or {@code fp4}
 * @param computeDtype the requested compute dtype name; the CPU run computes in float32
 */
public record QuantizationSettings(
    boolean loadIn4bit, String quantType, String computeDtype, boolean doubleQuant) {

  /**
   * The 4-bit format of {@code load_in_4bit} (transformers' {@code Linear4bit}: blocks of 64).
   *
   * @throws IllegalStateException when 4-bit loading is off
   */
  public FourBitFormat format() {
    if (!loadIn4bit) {
      throw new IllegalStateException("load_in_4bit is false");
    }
    return new FourBitFormat(
        FourBitType.parse(quantType), FourBitQuantizer.DEFAULT_BLOCKSIZE, doubleQuant);
  }

  static QuantizationSettings parse(Section s) {
    s.oneOf("quant_method", "bitsandbytes", "only bitsandbytes quantization", "bitsandbytes");
    s.onlyBool(
        "load_in_8bit", false, false, "8-bit (LLM.int8) is not supported; QLoRA is load_in_4bit");
    boolean fourBit = s.bool("load_in_4bit", false);
    String type = s.oneOf("bnb_4bit_quant_type", "fp4", "4-bit data types", "nf4", "fp4");
    String compute =
        s.oneOf(
            "bnb_4bit_compute_dtype",
            "float32",
            "compute dtypes",
            "float32",
            "bfloat16",
            "float16",
            "torch.float32",
            "torch.bfloat16",
            "torch.float16");
    boolean doubleQuant = s.bool("bnb_4bit_use_double_quant", false);
    // The LLM.int8 options only apply to 8-bit loading, which is refused above.
    s.noEffect(
        "llm_int8_threshold",
        "llm_int8_skip_modules",
        "llm_int8_enable_fp32_cpu_offload",
        "llm_int8_has_fp16_weight");
    return new QuantizationSettings(fourBit, type, compute.replace("torch.", ""), doubleQuant);
  }
}
