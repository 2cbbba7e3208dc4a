package sh.kaito.presets.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reader against GGUF files written by {@link GgufFixture}, with expected values computed from
 * ggml's block layouts (docs/gguf.md, gguf-py quants.py) in the test.
 */
class GgufFileTest {

  @TempDir Path tmp;

  private GgufFile open(GgufFixture f) throws Exception {
    Path file = tmp.resolve("m" + System.nanoTime() + ".gguf");
    f.write(file);
    return GgufFile.open(file);
  }

  private static byte[] le(int capacity, java.util.function.Consumer<ByteBuffer> fill) {
    ByteBuffer b = ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
    fill.accept(b);
    return b.array();
  }

  @Test
  void readsEveryMetadataValueType() throws Exception {
    GgufFile g =
        open(
            new GgufFixture()
                .put("u32", new GgufFixture.U32(4_000_000_000L))
                .put("i32", -7)
                .put("i8", (byte) -3)
                .put("i16", (short) -300)
                .put("i64", -1L << 40)
                .put("f32", 0.5f)
                .put("f64", 1e-300)
                .put("flag", true)
                .put("name", "héllo")
                .put("strings", List.of("a", "", "ü"))
                .put("ints", new GgufFixture.I32s(1, -2, 3)));
    assertThat(g.version()).isEqualTo(3);
    assertThat(g.integer("u32")).isEqualTo(4_000_000_000L);
    assertThat(g.integer("i32")).isEqualTo(-7);
    assertThat(g.integer("i8")).isEqualTo(-3);
    assertThat(g.integer("i16")).isEqualTo(-300);
    assertThat(g.integer("i64")).isEqualTo(-1L << 40);
    assertThat(g.number("f32")).isEqualTo(0.5);
    assertThat(g.number("f64")).isEqualTo(1e-300);
    assertThat(g.value("flag")).contains(true);
    assertThat(g.string("name")).isEqualTo("héllo");
    assertThat(g.list("strings", String.class)).containsExactly("a", "", "ü");
    assertThat(g.list("ints", Long.class)).containsExactly(1L, -2L, 3L);
    assertThatThrownBy(() -> g.string("i32")).hasMessageContaining("metadata i32 is Long");
    assertThatThrownBy(() -> g.integer("missing")).hasMessageContaining("no metadata key missing");
  }

  @Test
  void f32AndF16AreExactAndShapesAreReversed() throws Exception {
    float[] f32 = {1.5f, -0f, Float.MIN_VALUE, 3.4e38f, -1e-7f, 42f};
    // half bit patterns with their exact values: 1, -2, max, smallest subnormal, -0, +inf, 1/3
    short[] halves = {0x3C00, (short) 0xC000, 0x7BFF, 0x0001, (short) 0x8000, 0x7C00, 0x3555};
    float[] expected = {1f, -2f, 65504f, 0x1p-24f, -0f, Float.POSITIVE_INFINITY, 0.33325195f};
    GgufFile g =
        open(
            new GgufFixture()
                .tensor("a", new long[] {3, 2}, 0, le(24, b -> b.asFloatBuffer().put(f32)))
                .tensor("h", new long[] {7}, 1, le(14, b -> b.asShortBuffer().put(halves))));
    GgufFile.TensorInfo a = g.tensors().get("a");
    assertThat(a.shape()).containsExactly(2, 3);
    assertThat(g.floats(a)).containsExactly(f32);
    assertThat(g.floats(g.tensors().get("h"))).containsExactly(expected);
  }

  @Test
  void q8_0IsScaleTimesSignedByte() throws Exception {
    Random r = new Random(1);
    byte[] q = new byte[64];
    r.nextBytes(q);
    // two blocks: d = 0.5 (0x3800) and d = 0x2E66 = 1.599609375 / 16
    float[] d = {0.5f, 0.0999755859375f};
    byte[] data =
        le(
            68,
            b -> {
              b.putShort((short) 0x3800).put(q, 0, 32);
              b.putShort((short) 0x2E66).put(q, 32, 32);
            });
    GgufFile g = open(new GgufFixture().tensor("w", new long[] {32, 2}, 8, data));
    float[] out = g.floats(g.tensors().get("w"));
    for (int i = 0; i < 64; i++) {
      // exact: gguf-py computes d * q in float32, as the reader does
      assertThat(out[i]).as("element %d", i).isEqualTo(d[i / 32] * q[i]);
    }
  }

  @Test
  void q4_1IsScaleTimesNibblePlusMinLowNibblesFirst() throws Exception {
    Random r = new Random(2);
    byte[] nibbles = new byte[32];
    r.nextBytes(nibbles);
    float[] d = {0.25f, 3f};
    float[] m = {-1f, 0.5f};
    byte[] data =
        le(
            40,
            b -> {
              b.putShort((short) 0x3400).putShort((short) 0xBC00).put(nibbles, 0, 16);
              b.putShort((short) 0x4200).putShort((short) 0x3800).put(nibbles, 16, 16);
            });
    GgufFile g = open(new GgufFixture().tensor("w", new long[] {64}, 3, data));
    float[] out = g.floats(g.tensors().get("w"));
    for (int blk = 0; blk < 2; blk++) {
      for (int j = 0; j < 16; j++) {
        int packed = nibbles[blk * 16 + j] & 0xFF;
        // element j is the low nibble of byte j, element j + 16 its high nibble
        assertThat(out[blk * 32 + j]).isEqualTo(d[blk] * (packed & 15) + m[blk]);
        assertThat(out[blk * 32 + 16 + j]).isEqualTo(d[blk] * (packed >> 4) + m[blk]);
      }
    }
  }

  @Test
  void otherTypesFailNamingTheType() throws Exception {
    GgufFile g =
        open(
            new GgufFixture()
                .tensor("k", new long[] {256}, 14, new byte[210])
                .tensor("z", new long[] {32}, 2, new byte[18]));
    assertThatThrownBy(() -> g.floats(g.tensors().get("k")))
        .isInstanceOf(GgufException.class)
        .hasMessageContaining("tensor k is Q6_K")
        .hasMessageContaining("F32, F16, Q8_0 and Q4_1 only");
    assertThatThrownBy(() -> g.floats(g.tensors().get("z"))).hasMessageContaining("is Q4_0");
  }

  @Test
  void badFilesFailWithTheReason() throws Exception {
    Path notGguf = tmp.resolve("x.gguf");
    Files.writeString(notGguf, "PK\u0003\u0004 a zip, not a model");
    assertThatThrownBy(() -> GgufFile.open(notGguf))
        .isInstanceOf(GgufException.class)
        .hasMessageContaining("is not a GGUF file");
    assertThatThrownBy(() -> GgufFile.open(tmp.resolve("none.gguf")))
        .hasMessageContaining("no such GGUF file");

    GgufFixture v1 = GgufFixture.tinyLlama();
    v1.version = 1;
    assertThatThrownBy(() -> open(v1)).hasMessageContaining("GGUF version 1");

    byte[] whole =
        GgufFixture.tinyLlama().tensor("w", new long[] {32, 4}, 8, new byte[4 * 34]).bytes();
    Path header = tmp.resolve("header.gguf");
    Files.write(header, Arrays.copyOf(whole, 100));
    assertThatThrownBy(() -> GgufFile.open(header))
        .isInstanceOf(GgufException.class)
        .hasMessageContaining("is truncated: its header ends at byte");
    Path data = tmp.resolve("data.gguf");
    Files.write(data, Arrays.copyOf(whole, whole.length - 40));
    assertThatThrownBy(() -> GgufFile.open(data))
        .hasMessageContaining("is truncated: tensor w ends at byte");

    assertThatThrownBy(
            () -> open(new GgufFixture().tensor("odd", new long[] {33}, 8, new byte[68])))
        .hasMessageContaining("tensor odd has 33 columns, not a multiple of Q8_0's block of 32");
    assertThatThrownBy(() -> open(new GgufFixture().tensor("u", new long[] {4}, 99, new byte[4])))
        .hasMessageContaining("tensor u has unknown ggml type 99");
  }
}
