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
    Streaming q = new Streaming(values.length, blocksize, type, doubleQuant);
    q.accept(values, values.length);
    return q.finish();
  }

  /**
   * Quantizes a tensor whose values arrive in chunks of any size, in order (a file read piece by
   * piece): only one block of float32 values is held at a time. The result is the same as {@link
   * #quantize} of all the values at once.
   */
  public static final class Streaming {
    private final int numel;
    private final int blocksize;
    private final FourBitType type;
    private final boolean doubleQuant;
    private final float[] absmax;
    private final byte[] packed;
    private final float[] block;
    private int filled; // values in block
    private int blocksDone;

    public Streaming(int numel, int blocksize, FourBitType type, boolean doubleQuant) {
      if (!BLOCKSIZES.contains(blocksize)) {
        throw new IllegalArgumentException(
            "4-bit blocksize must be one of " + BLOCKSIZES + ", got " + blocksize);
      }
      this.numel = numel;
      this.blocksize = blocksize;
      this.type = type;
      this.doubleQuant = doubleQuant;
      this.absmax = new float[(numel + blocksize - 1) / blocksize];
      this.packed = new byte[(numel + 1) / 2];
      this.block = new float[blocksize];
    }

    /** The next {@code count} values of the tensor, from {@code values[0]}. */
    public void accept(float[] values, int count) {
      for (int i = 0; i < count; i++) {
        block[filled++] = values[i];
        if (filled == blocksize) {
          flushBlock();
        }
      }
    }

    private void flushBlock() {
      int from = blocksDone * blocksize;
      if (from + filled > numel) {
        throw new IllegalStateException("more than " + numel + " values");
      }
      float max = 0f;
      for (int i = 0; i < filled; i++) {
        max = Math.max(max, Math.abs(block[i]));
      }
      absmax[blocksDone] = max;
      float safe = Math.max(max, 1e-38f);
      float inv = 1f / safe;
      boolean whole = filled == blocksize;
      for (int i = 0; i < filled; i++) {
        // Full blocks multiply by the reciprocal; the short tail divides (as the reference does).
        float scaled = whole ? block[i] * inv : block[i] / safe;
        int code = type.quantize(Math.max(-1f, Math.min(1f, scaled)));
        int at = from + i;
        packed[at >> 1] |= (byte) ((at & 1) == 0 ? code << 4 : code);
      }
      blocksDone++;
      filled = 0;
    }

    /** The quantized tensor, once all {@code numel} values have been accepted. */
    public FourBitWeights finish() {
      if (filled > 0) {
        flushBlock();
      }
      if (blocksDone != absmax.length) {
        throw new IllegalStateException("got " + (blocksDone * blocksize) + " values of " + numel);
      }
      if (numel % 2 == 1) {
        // The reference pads an odd count with one 0.0, quantized like any value.
        packed[numel >> 1] |= (byte) type.quantize(0f);
      }
      FourBitWeights.Absmax stats =
          doubleQuant
              ? doubleQuantize(absmax, mean(absmax))
              : new FourBitWeights.PlainAbsmax(absmax);
      return new FourBitWeights(packed, numel, blocksize, type, stats);
    }
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
