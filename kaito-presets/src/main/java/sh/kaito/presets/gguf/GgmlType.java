package sh.kaito.presets.gguf;

import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * ggml's tensor types as GGUF numbers them ({@code ggml.h} {@code enum ggml_type}), with the block
 * layout of those this reader dequantizes. Blocks are little-endian; the formulas are gguf-py's
 * {@code quants.py}, evaluated in float32 as it does, so the result equals {@code gguf.dequantize}
 * bit for bit.
 */
public enum GgmlType {
  F32(0, 1, 4),
  F16(1, 1, 2),
  Q4_0(2, 32, 18),
  Q4_1(3, 32, 20),
  Q5_0(6, 32, 22),
  Q5_1(7, 32, 24),
  Q8_0(8, 32, 34),
  Q8_1(9, 32, 36),
  Q2_K(10, 256, 84),
  Q3_K(11, 256, 110),
  Q4_K(12, 256, 144),
  Q5_K(13, 256, 176),
  Q6_K(14, 256, 210),
  Q8_K(15, 256, 292),
  IQ2_XXS(16, 256, 66),
  IQ2_XS(17, 256, 74),
  IQ3_XXS(18, 256, 98),
  IQ1_S(19, 256, 50),
  IQ4_NL(20, 32, 18),
  IQ3_S(21, 256, 110),
  IQ2_S(22, 256, 82),
  IQ4_XS(23, 256, 136),
  I8(24, 1, 1),
  I16(25, 1, 2),
  I32(26, 1, 4),
  I64(27, 1, 8),
  F64(28, 1, 8),
  IQ1_M(29, 256, 56),
  BF16(30, 1, 2);

  private final int id;
  private final int blockSize;
  private final int blockBytes;

  GgmlType(int id, int blockSize, int blockBytes) {
    this.id = id;
    this.blockSize = blockSize;
    this.blockBytes = blockBytes;
  }

  public int id() {
    return id;
  }

  /** Elements per block (1 for plain types). */
  public int blockSize() {
    return blockSize;
  }

  /** Bytes per block. */
  public int blockBytes() {
    return blockBytes;
  }

  public static Optional<GgmlType> byId(int id) {
    for (GgmlType t : values()) {
      if (t.id == id) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }

  /** Whether {@link #dequantize} handles this type. */
  public boolean dequantizable() {
    return this == F32 || this == F16 || this == Q8_0 || this == Q4_1;
  }

  /**
   * Dequantizes {@code out.length} elements (a whole number of blocks) from {@code in} (little
   * endian, positioned at the first block) into {@code out}.
   */
  void dequantize(ByteBuffer in, float[] out) {
    int n = out.length;
    switch (this) {
      case F32 -> in.asFloatBuffer().get(out);
      case F16 -> {
        for (int i = 0; i < n; i++) {
          out[i] = halfToFloat(in.getShort(in.position() + 2 * i));
        }
      }
      case Q8_0 -> {
        // block: f16 d, int8 qs[32]; x = d * q
        int base = in.position();
        for (int b = 0; b < n / 32; b++) {
          int p = base + b * 34;
          float d = halfToFloat(in.getShort(p));
          for (int j = 0; j < 32; j++) {
            out[b * 32 + j] = d * in.get(p + 2 + j);
          }
        }
      }
      case Q4_1 -> {
        // block: f16 d, f16 m, u8 qs[16]; low nibbles are elements 0..15, high nibbles 16..31;
        // x = d * q + m
        int base = in.position();
        for (int b = 0; b < n / 32; b++) {
          int p = base + b * 20;
          float d = halfToFloat(in.getShort(p));
          float m = halfToFloat(in.getShort(p + 2));
          for (int j = 0; j < 16; j++) {
            int q = in.get(p + 4 + j) & 0xFF;
            out[b * 32 + j] = d * (q & 0x0F) + m;
            out[b * 32 + 16 + j] = d * (q >>> 4) + m;
          }
        }
      }
      default -> throw new IllegalStateException(this + " is not dequantizable");
    }
  }

  /** IEEE 754 half precision to float (exact: every half is a float). */
  static float halfToFloat(short h) {
    int bits = h & 0xFFFF;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1F;
    int mant = bits & 0x3FF;
    if (exp == 0x1F) { // inf, NaN
      return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
    }
    if (exp == 0) {
      if (mant == 0) {
        return Float.intBitsToFloat(sign);
      }
      // subnormal half: mant * 2^-24, exact in float
      float v = mant * 0x1p-24f;
      return sign == 0 ? v : -v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }
}
