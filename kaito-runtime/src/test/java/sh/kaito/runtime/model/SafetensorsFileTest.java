package sh.kaito.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Header parsing and the errors for bad files; nothing here touches libtorch. */
class SafetensorsFileTest {

  @TempDir Path dir;

  @Test
  void readsHeaderWithoutReadingData() throws Exception {
    Path f = dir.resolve("w.safetensors");
    SafetensorsFixtures.write(
        f, SafetensorsFixtures.one("a", "BF16", new long[] {2, 3}, 12), Map.of());
    SafetensorsFile file = SafetensorsFile.open(f);
    assertThat(file.tensors()).containsOnlyKeys("a");
    assertThat(file.tensors().get("a").shape()).containsExactly(2, 3);
    assertThat(file.metadata()).containsEntry("format", "pt");
  }

  @Test
  void missingFileIsNamed() {
    assertThatThrownBy(() -> SafetensorsFile.open(dir.resolve("nope.safetensors")))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("not found")
        .hasMessageContaining("nope.safetensors");
  }

  @Test
  void garbageHeaderLengthIsReportedNotAllocated() throws Exception {
    Path f = dir.resolve("bad.safetensors");
    Files.write(f, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f, 0, 0, 0, 0, 1, 2});
    assertThatThrownBy(() -> SafetensorsFile.open(f))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("corrupt safetensors header length");
  }

  @Test
  void headerThatIsNotJsonIsReported() throws Exception {
    Path f = dir.resolve("bad.safetensors");
    byte[] body = "{not json".getBytes(StandardCharsets.UTF_8);
    byte[] bytes = new byte[8 + body.length];
    bytes[0] = (byte) body.length;
    System.arraycopy(body, 0, bytes, 8, body.length);
    Files.write(f, bytes);
    assertThatThrownBy(() -> SafetensorsFile.open(f))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("not valid JSON");
  }

  @Test
  void truncatedFileIsReported() throws Exception {
    Path f = dir.resolve("t.safetensors");
    SafetensorsFixtures.write(
        f, SafetensorsFixtures.one("a", "F32", new long[] {1024}, 4096), Map.of());
    byte[] all = Files.readAllBytes(f);
    Files.write(f, java.util.Arrays.copyOf(all, all.length - 100));
    assertThatThrownBy(() -> SafetensorsFile.open(f))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("truncated or corrupt");
  }

  @Test
  void sizeThatDisagreesWithShapeIsReported() throws Exception {
    Path f = dir.resolve("s.safetensors");
    SafetensorsFixtures.write(
        f, SafetensorsFixtures.one("a", "F32", new long[] {10}, 36), Map.of());
    assertThatThrownBy(() -> SafetensorsFile.open(f))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("need 40");
  }

  @Test
  void dtypesLibtorchCannotHoldAreRejectedBeforeLoading() throws Exception {
    Path f = dir.resolve("u.safetensors");
    SafetensorsFixtures.write(f, SafetensorsFixtures.one("a", "U16", new long[] {4}, 8), Map.of());
    assertThatThrownBy(() -> SafetensorsFile.open(f))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("unsupported dtype U16");
  }
}
