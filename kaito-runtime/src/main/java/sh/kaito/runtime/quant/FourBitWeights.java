package sh.kaito.runtime.quant;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * A tensor held in 4 bits as bitsandbytes' {@code quantize_4bit} stores it: codes packed two per
 * byte (the first in the high nibble), one absmax per {@code blocksize} values, and with double
 * quantization (QLoRA's {@code bnb_4bit_use_double_quant}) those absmax values themselves held as
 * dynamic 8-bit codes in blocks of 256 around their mean.
 *
 * <p>The packed codes are held outside the Java heap (a direct buffer): they are most of a 4-bit
 * model, and on the heap the collector sizes its generations around them.
 */
public final class FourBitWeights {

  private final ByteBuffer packed;
  private final int numel;
  private final int blocksize;
  private final FourBitType type;
  private final Absmax absmax;

  /**
   * @param packed {@code ceil(numel / 2)} bytes (copied)
   * @param numel how many values the tensor has
   */
  public FourBitWeights(byte[] packed, int numel, int blocksize, FourBitType type, Absmax absmax) {
    if (packed.length != (numel + 1) / 2) {
      throw new IllegalArgumentException(packed.length + " packed bytes for " + numel + " values");
    }
    this.packed = ByteBuffer.allocateDirect(packed.length).put(packed).flip();
    this.numel = numel;
    this.blocksize = blocksize;
    this.type = type;
    this.absmax = absmax;
  }

  /** The packed codes, {@code ceil(numel / 2)} bytes (a copy). */
  public byte[] packed() {
    byte[] out = new byte[packed.capacity()];
    packed.get(0, out);
    return out;
  }

  public int numel() {
    return numel;
  }

  public int blocksize() {
    return blocksize;
  }

  public FourBitType type() {
    return type;
  }

  public Absmax absmax() {
    return absmax;
  }

  /** Double quantization's second level: absmax values are blocks of 256 around this offset. */
  public static final int ABSMAX_BLOCKSIZE = 256;

  /** How a tensor's per-block scales are stored. */
  public sealed interface Absmax {
    /** The scale of each block, in float32. */
    float[] values();
  }

  /** One float32 absmax per block. */
  public record PlainAbsmax(float[] absmax) implements Absmax {
    @Override
    public float[] values() {
      return absmax;
    }
  }

  /**
   * Absmax values quantized with the dynamic 8-bit code: {@code value = code[codes[i]] * scales[i /
   * 256] + offset}.
   */
  public record DoubleQuantizedAbsmax(byte[] codes, float[] scales, float offset)
      implements Absmax {
    @Override
    public float[] values() {
      float[] out =
          DynamicCode.dequantize(new DynamicCode.Blockwise(codes, scales, ABSMAX_BLOCKSIZE));
      for (int i = 0; i < out.length; i++) {
        out[i] += offset;
      }
      return out;
    }
  }

  /** The 4-bit code of value {@code i}. */
  public int code(int i) {
    int b = packed.get(i >> 1) & 0xFF;
    return (i & 1) == 0 ? b >>> 4 : b & 0x0F;
  }

  /** The values back in float32: each code's value times its block's absmax. */
  public float[] dequantize() {
    float[] scales = absmax.values();
    float[] out = new float[numel];
    for (int i = 0; i < numel; i++) {
      out[i] = type.value(code(i)) * scales[i / blocksize];
    }
    return out;
  }

  /**
   * As {@link #dequantize()} (the same products, so the same bits), written to {@code out} from
   * index {@code at} on: a whole packed byte at a time (block sizes are even, so both of its codes
   * share a block).
   */
  public void dequantizeInto(FloatBuffer out, int at) {
    float[] scales = absmax.values();
    int pairs = numel / 2;
    for (int j = 0; j < pairs; j++) {
      int b = packed.get(j) & 0xFF;
      float scale = scales[(2 * j) / blocksize];
      out.put(at + 2 * j, type.value(b >>> 4) * scale);
      out.put(at + 2 * j + 1, type.value(b & 0x0F) * scale);
    }
    if (numel % 2 == 1) {
      out.put(at + numel - 1, type.value(code(numel - 1)) * scales[(numel - 1) / blocksize]);
    }
  }

  /**
   * The bytes this tensor holds: packed codes plus its scales (float32 absmax, or with double
   * quantization one byte per absmax, a float32 per 256 of them and the offset).
   */
  public long residentBytes() {
    long scales =
        absmax instanceof DoubleQuantizedAbsmax d
            ? d.codes().length + 4L * d.scales().length + 4
            : 4L * absmax.values().length;
    return packed.capacity() + scales;
  }
}
