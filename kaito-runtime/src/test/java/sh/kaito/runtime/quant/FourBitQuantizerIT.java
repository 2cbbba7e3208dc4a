package sh.kaito.runtime.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.runtime.Oracle;

/**
 * Our 4-bit quantization against bitsandbytes 0.50's {@code quantize_4bit} / {@code
 * dequantize_4bit} on the CPU (src/test/python/bnb_oracle.py), on the same tensors: NF4 and FP4,
 * block sizes 64 and 128, with and without double quantization, full and short last blocks, an odd
 * count, a zero block. Everything is compared bit for bit, except double quantization's offset (see
 * {@link #doubleQuantizationMatchesWithTheReferenceOffset}).
 */
class FourBitQuantizerIT {
  @TempDir static Path out;
  static List<JsonNode> cases;

  @BeforeAll
  static void runReference() throws Exception {
    Path log = out.resolve("oracle.log");
    Process p =
        new ProcessBuilder(
                Oracle.python().toString(),
                Path.of("src/test/python/bnb_oracle.py").toAbsolutePath().toString(),
                out.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
      p.destroyForcibly();
      fail("bnb_oracle.py failed:\n" + Files.readString(log));
    }
    cases = Oracle.readJson(out.resolve("cases.json")).findParents("case");
    assertThat(cases).hasSize(5 * 2 * 2 * 2);
  }

  @Test
  void theDynamicCodeIsBitsandbytesOwn() throws IOException {
    assertThat(bits(DynamicCode.SIGNED)).isEqualTo(bits(floats("dynamic_code.f32")));
  }

  @Test
  void codesAbsmaxAndDequantizedValuesAreBitIdentical() throws IOException {
    for (JsonNode c : cases) {
      String name = c.get("case").asText();
      FourBitWeights ours = quantize(c);
      assertThat(ours.packed()).as(name + " packed codes").isEqualTo(bytes(name + ".packed.u8"));
      float[] absmax = floats(name + ".absmax.f32");
      if (ours.absmax() instanceof FourBitWeights.PlainAbsmax plain) {
        assertThat(bits(plain.absmax())).as(name + " absmax").isEqualTo(bits(absmax));
        assertThat(valueBits(ours.dequantize()))
            .as(name + " dequantized")
            .isEqualTo(valueBits(floats(name + ".dequant.f32")));
      }
    }
  }

  /**
   * The offset of double quantization is the mean of the absmax values. bitsandbytes takes torch's
   * float32 mean, whose summation order depends on the CPU's vector width; ours sums in double.
   * They agree to within 2 ulp here; given the reference's offset, the second level (codes and
   * scales) and the dequantized values are bit-identical.
   */
  @Test
  void doubleQuantizationMatchesWithTheReferenceOffset() throws IOException {
    int checked = 0;
    for (JsonNode c : cases) {
      if (!c.get("double").asBoolean()) {
        continue;
      }
      String name = c.get("case").asText();
      float referenceOffset = (float) c.get("offset").asDouble();
      FourBitWeights ours = quantize(c);
      var dq = (FourBitWeights.DoubleQuantizedAbsmax) ours.absmax();
      // 2 ulp: float32 sums in another order (see above) differ in the last bits, not more.
      assertThat(Math.abs(dq.offset() - referenceOffset))
          .as(name + " offset")
          .isLessThanOrEqualTo(2 * Math.ulp(referenceOffset));

      float[] absmax = floats(name + ".absmax.f32");
      var second = FourBitQuantizer.doubleQuantize(absmax, referenceOffset);
      assertThat(second.codes()).as(name + " absmax codes").isEqualTo(bytes(name + ".qabsmax.u8"));
      assertThat(bits(second.scales()))
          .as(name + " absmax scales")
          .isEqualTo(bits(floats(name + ".absmax2.f32")));
      FourBitWeights withReferenceOffset =
          new FourBitWeights(ours.packed(), ours.numel(), ours.blocksize(), ours.type(), second);
      assertThat(valueBits(withReferenceOffset.dequantize()))
          .as(name + " dequantized")
          .isEqualTo(valueBits(floats(name + ".dequant.f32")));
      checked++;
    }
    assertThat(checked).isEqualTo(20);
  }

  private static FourBitWeights quantize(JsonNode c) throws IOException {
    float[] input = floats(c.get("input").asText() + ".input.f32");
    assertThat(input).hasSize(c.get("numel").asInt());
    return FourBitQuantizer.quantize(
        input,
        c.get("blocksize").asInt(),
        FourBitType.parse(c.get("quant_type").asText()),
        c.get("double").asBoolean());
  }

  private static byte[] bytes(String file) throws IOException {
    return Files.readAllBytes(out.resolve(file));
  }

  private static float[] floats(String file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(bytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    float[] f = new float[b.remaining() / 4];
    b.asFloatBuffer().get(f);
    return f;
  }

  /**
   * Bits, with -0.0 read as 0.0: FP4's code 8 is -0 in bitsandbytes' codebook and scalar kernel
   * (and ours) but +0 in its AVX-512 table, so its dequantized zeros carry either sign.
   */
  private static int[] valueBits(float[] f) {
    int[] out = bits(f);
    for (int i = 0; i < out.length; i++) {
      if (f[i] == 0f) {
        out[i] = 0;
      }
    }
    return out;
  }

  private static int[] bits(float[] f) {
    int[] out = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = Float.floatToRawIntBits(f[i]);
    }
    return out;
  }
}
