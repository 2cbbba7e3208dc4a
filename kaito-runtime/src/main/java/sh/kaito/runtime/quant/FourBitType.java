package sh.kaito.runtime.quant;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.stream.IntStream;

/**
 * The 4-bit data types of bitsandbytes' {@code quantize_4bit} (QLoRA's {@code
 * bnb_4bit_quant_type}): a 16-entry codebook in [-1, 1]; a 4-bit code is an index into it.
 */
public enum FourBitType {
  /**
   * NormalFloat4: quantiles of N(0, 1) normalised to [-1, 1], with an exact zero (the QLoRA paper's
   * table, as bitsandbytes publishes it).
   */
  NF4(
      new float[] {
        -1.0f,
        -0.6961928009986877f,
        -0.5250730514526367f,
        -0.39491748809814453f,
        -0.28444138169288635f,
        -0.18477343022823334f,
        -0.09105003625154495f,
        0.0f,
        0.07958029955625534f,
        0.16093020141124725f,
        0.24611230194568634f,
        0.33791524171829224f,
        0.44070982933044434f,
        0.5626170039176941f,
        0.7229568362236023f,
        1.0f
      }),
  /**
   * FP4 (1 sign, 2 exponent, 1 mantissa bit, exponent bias 2), listed in bit-pattern order and
   * divided by its largest magnitude, 12.
   */
  FP4(fp4());

  private final float[] code;
  // Bucket boundaries between neighbouring code values, in value order, and the code index of each
  // bucket: quantizing is "how many boundaries lie strictly below x".
  private final float[] bounds;
  private final byte[] bucketCode;

  FourBitType(float[] code) {
    this.code = code;
    // Value order; equal values (FP4's +0 and -0) keep index order.
    Integer[] order =
        IntStream.range(0, 16)
            .boxed()
            .sorted(Comparator.comparingDouble(i -> code[i] == 0f ? 0.0 : code[i]))
            .toArray(Integer[]::new);
    this.bounds = new float[15];
    this.bucketCode = new byte[16];
    for (int i = 0; i < 16; i++) {
      bucketCode[i] = order[i].byteValue();
      if (i < 15) {
        bounds[i] = (code[order[i]] + code[order[i + 1]]) / 2f;
      }
    }
  }

  private static float[] fp4() {
    float[] raw = {
      0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f, -0f, -0.0625f, -8f, -12f, -4f, -6f, -2f, -3f
    };
    float[] code = new float[16];
    for (int i = 0; i < 16; i++) {
      code[i] = raw[i] / 12f;
    }
    return code;
  }

  /** The value a 4-bit code stands for, before scaling by its block's absmax. */
  public float value(int code4) {
    return code[code4];
  }

  /** The code of the nearest value to {@code x} (a value in [-1, 1]), as bitsandbytes picks it. */
  int quantize(float x) {
    int lo = 0;
    int hi = bounds.length;
    while (lo < hi) { // the number of bounds strictly below x
      int mid = (lo + hi) >>> 1;
      if (bounds[mid] < x) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return bucketCode[lo];
  }

  float[] codebook() {
    return Arrays.copyOf(code, code.length);
  }

  /** {@code nf4} or {@code fp4}, as {@code bnb_4bit_quant_type} spells it. */
  public static FourBitType parse(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "nf4" -> NF4;
      case "fp4" -> FP4;
      default ->
          throw new IllegalArgumentException(
              "bnb_4bit_quant_type must be nf4 or fp4, got '" + name + "'");
    };
  }
}
