package sh.kaito.runtime.quant;

import java.util.Set;

/**
 * Quantizes float32 values to 4 bits exactly as bitsandbytes 0.50's {@code quantize_4bit} does on
 * the CPU (checked bit for bit against it in {@code FourBitQuantizerIT}): per block, the absmax;
 * each value times {@code 1 / absmax}, clamped to [-1, 1], to the nearest code (ties to the lower
 * one); a short last block is divided by its absmax instead.
 */
public final class FourBitQuantizer {
  /** The block sizes bitsandbytes accepts. */
  public static final Set<Integer> BLOCKSIZES = Set.of(32, 64, 128, 256, 512, 1024, 2048, 4096);

  /** bitsandbytes' default, and what transformers' {@code Linear4bit} uses. */
  public static final int DEFAULT_BLOCKSIZE = 64;

  private FourBitQuantizer() {}

  /**
   * @param doubleQuant also quantize the absmax values (QLoRA's {@code bnb_4bit_use_double_quant}),
   *     around their mean
   */
  public static FourBitWeights quantize(
      float[] values, int blocksize, FourBitType type, boolean doubleQuant) {
    if (!BLOCKSIZES.contains(blocksize)) {
      throw new IllegalArgumentException(
          "4-bit blocksize must be one of " + BLOCKSIZES + ", got " + blocksize);
    }
    int n = values.length;
    int blocks = (n + blocksize - 1) / blocksize;
    int full = n - n % blocksize;
    float[] absmax = new float[blocks];
    byte[] packed = new byte[(n + 1) / 2];
    for (int b = 0; b < blocks; b++) {
      int from = b * blocksize;
      int to = Math.min(from + blocksize, n);
      float max = 0f;
      for (int i = from; i < to; i++) {
        max = Math.max(max, Math.abs(values[i]));
      }
      absmax[b] = max;
      float safe = Math.max(max, 1e-38f);
      float inv = 1f / safe;
      for (int i = from; i < to; i++) {
        // Full blocks multiply by the reciprocal; the short tail divides (as the reference does).
        float scaled = from < full ? values[i] * inv : values[i] / safe;
        int code = type.quantize(Math.max(-1f, Math.min(1f, scaled)));
        packed[i >> 1] |= (byte) ((i & 1) == 0 ? code << 4 : code);
      }
    }
    if (n % 2 == 1) {
      // The reference pads an odd count with one 0.0, quantized like any value.
      packed[n >> 1] |= (byte) type.quantize(0f);
    }
    FourBitWeights.Absmax stats =
        doubleQuant ? doubleQuantize(absmax, mean(absmax)) : new FourBitWeights.PlainAbsmax(absmax);
    return new FourBitWeights(packed, n, blocksize, type, stats);
  }

  /**
   * The absmax values as dynamic 8-bit codes in blocks of 256 around {@code offset}. Package
   * visible so a test can pass the reference's own offset.
   */
  static FourBitWeights.DoubleQuantizedAbsmax doubleQuantize(float[] absmax, float offset) {
    float[] centred = new float[absmax.length];
    for (int i = 0; i < absmax.length; i++) {
      centred[i] = absmax[i] - offset;
    }
    DynamicCode.Blockwise q = DynamicCode.quantize(centred, FourBitWeights.ABSMAX_BLOCKSIZE);
    return new FourBitWeights.DoubleQuantizedAbsmax(q.codes(), q.absmax(), offset);
  }

  /**
   * The float32 mean, summed in double and rounded once. bitsandbytes takes torch's float32 mean,
   * whose summation order follows the CPU's vector width, so the two may differ in the last bit.
   */
  static float mean(float[] values) {
    double sum = 0;
    for (float v : values) {
      sum += v;
    }
    return (float) (sum / values.length);
  }
}
