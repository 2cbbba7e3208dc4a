package sh.kaito.runtime.quant;

import java.util.ArrayList;
import java.util.List;

/**
 * bitsandbytes' signed "dynamic" 8-bit code (dynamic exponent, shrinking fraction; Dettmers 2015),
 * the codebook its {@code quantize_blockwise} uses for QLoRA's double quantization of the absmax
 * values; and blockwise quantization with it as its CPU kernel does it (nearest code through a
 * 65,536-bin lookup table over [-1, 1]).
 */
final class DynamicCode {
  private static final int LUT_SIZE = 65536;

  static final float[] SIGNED = build();
  private static final byte[] LUT = lookupTable(SIGNED);

  private DynamicCode() {}

  private static float[] build() {
    int maxExponentBits = 7;
    List<Float> data = new ArrayList<>();
    for (int i = 0; i < maxExponentBits; i++) {
      int fractionItems = (1 << i) + 1;
      float[] boundaries = linspace(0.1f, 1f, fractionItems);
      // A Python float times a float32 tensor: the scalar is rounded to float32 first.
      float scale = (float) Math.pow(10, -(maxExponentBits - 1) + i);
      for (int k = 0; k + 1 < boundaries.length; k++) {
        float mean = (boundaries[k] + boundaries[k + 1]) / 2f;
        data.add(scale * mean);
        data.add(-scale * mean);
      }
    }
    data.add(0f);
    data.add(1f);
    float[] code = new float[256];
    data.sort(Float::compare);
    for (int i = 0; i < code.length; i++) {
      code[i] = data.get(i);
    }
    return code;
  }

  /**
   * torch.linspace in float32 on the CPU: the first half counted up from {@code start}, the second
   * half down from {@code end}, each point one fused multiply-add of the float32 step.
   */
  static float[] linspace(float start, float end, int steps) {
    float[] out = new float[steps];
    if (steps == 1) {
      out[0] = start;
      return out;
    }
    float step = (end - start) / (steps - 1);
    int halfway = steps / 2;
    for (int i = 0; i < steps; i++) {
      out[i] =
          i < halfway
              ? Math.fma(step, (float) i, start)
              : Math.fma(-step, (float) (steps - i - 1), end);
    }
    return out;
  }

  /** For each of LUT_SIZE points evenly spread over [-1, 1], the index of the nearest code. */
  private static byte[] lookupTable(float[] code) {
    float[] midpoints = new float[code.length - 1];
    for (int i = 0; i < midpoints.length; i++) {
      midpoints[i] = 0.5f * (code[i] + code[i + 1]);
    }
    byte[] lut = new byte[LUT_SIZE];
    int c = 0;
    for (int i = 0; i < LUT_SIZE; i++) {
      float val = -1f + (2f * i) / (LUT_SIZE - 1);
      while (c < midpoints.length && midpoints[c] < val) {
        c++;
      }
      lut[i] = (byte) c;
    }
    return lut;
  }

  private static int lutIndex(float normalized) {
    float v = Math.max(-1f, Math.min(1f, normalized));
    return (int) ((v + 1f) * 0.5f * (LUT_SIZE - 1) + 0.5f);
  }

  /** Blockwise 8-bit codes with one absmax per block (the last block may be short). */
  record Blockwise(byte[] codes, float[] absmax, int blocksize) {}

  static Blockwise quantize(float[] values, int blocksize) {
    int blocks = (values.length + blocksize - 1) / blocksize;
    byte[] codes = new byte[values.length];
    float[] absmax = new float[blocks];
    for (int b = 0; b < blocks; b++) {
      int from = b * blocksize;
      int to = Math.min(from + blocksize, values.length);
      float max = 0f;
      for (int i = from; i < to; i++) {
        max = Math.max(max, Math.abs(values[i]));
      }
      absmax[b] = max;
      if (max == 0f) {
        continue; // codes stay 0, as the kernel leaves them
      }
      float inv = 1f / max;
      for (int i = from; i < to; i++) {
        codes[i] = LUT[lutIndex(values[i] * inv)];
      }
    }
    return new Blockwise(codes, absmax, blocksize);
  }

  static float[] dequantize(Blockwise q) {
    float[] out = new float[q.codes().length];
    for (int i = 0; i < out.length; i++) {
      out[i] = SIGNED[q.codes()[i] & 0xFF] * q.absmax()[i / q.blocksize()];
    }
    return out;
  }
}
