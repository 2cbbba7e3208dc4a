package sh.kaito.presets.image;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The adapter image against upstream's layout (pkg/workspace/image/pusher.sh): golden manifest and
 * config, OCI media types, and the layer read back by GNU tar.
 */
class AdapterImageGoldenTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  static Path fixedAdapter(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("adapter_config.json"),
        "{\"base_model_name_or_path\": \"phi-3-mini-4k-instruct\", \"peft_type\": \"LORA\", \"r\": 8}\n");
    byte[] weights = new byte[4096];
    for (int i = 0; i < weights.length; i++) {
      weights[i] = (byte) (i % 251);
    }
    Files.write(dir.resolve("adapter_model.safetensors"), weights);
    return dir;
  }

  private static JsonNode golden(String name) throws IOException {
    try (InputStream in = AdapterImageGoldenTest.class.getResourceAsStream("golden/" + name)) {
      return JSON.readTree(in);
    }
  }

  @Test
  void manifestAndConfigMatchUpstreamLayout(@TempDir Path tmp) throws Exception {
    AdapterImage image =
        AdapterImage.build(
            fixedAdapter(tmp.resolve("a")),
            Map.of(ModelImageLayout.MODEL_NAME_ANNOTATION, "phi-3-mini-4k-instruct"));

    assertThat(JSON.readTree(image.config())).isEqualTo(golden("adapter-config.json"));

    // The gzip bytes depend on the zlib build, so the layer's digest and size are checked
    // against the blob itself and the rest of the manifest against the golden file.
    String manifest =
        new String(image.manifest(), StandardCharsets.UTF_8)
            .replace(image.layerDigest(), "<layer-digest>")
            .replace("\"size\":" + image.layer().length + ",", "\"size\":\"<layer-size>\",");
    assertThat(JSON.readTree(manifest)).isEqualTo(golden("adapter-manifest.json"));
    assertThat(Digests.of(image.layer())).isEqualTo(image.layerDigest());
  }

  @Test
  void layerIsTarGzipOfDataDirectory(@TempDir Path tmp) throws Exception {
    AdapterImage image = AdapterImage.build(fixedAdapter(tmp.resolve("a")), Map.of());
    Path layer = tmp.resolve("layer.tar.gz");
    Files.write(layer, image.layer());

    Process tar =
        new ProcessBuilder("tar", "-tzf", layer.toString()).redirectErrorStream(true).start();
    String listing = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(tar.waitFor()).as(listing).isZero();
    assertThat(listing.lines().toList())
        .containsExactly("data/", "data/adapter_config.json", "data/adapter_model.safetensors");

    Process gunzip = new ProcessBuilder("gzip", "-dc", layer.toString()).start();
    byte[] uncompressed = gunzip.getInputStream().readAllBytes();
    assertThat(gunzip.waitFor()).isZero();
    assertThat(Digests.of(uncompressed)).as("diff_id").isEqualTo(image.diffId());
  }

  @Test
  void sameInputSameDigestAndMissingFileIsNamed(@TempDir Path tmp) throws Exception {
    Path a = fixedAdapter(tmp.resolve("a"));
    assertThat(AdapterImage.build(a, Map.of()).digest())
        .isEqualTo(AdapterImage.build(a, Map.of()).digest());
    Files.delete(a.resolve("adapter_model.safetensors"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> AdapterImage.build(a, Map.of()))
        .isInstanceOf(ImageException.class)
        .hasMessageContaining("has no adapter_model.safetensors");
  }

  @Test
  void ociLayoutTarHasIndexAndBlobs(@TempDir Path tmp) throws Exception {
    AdapterImage image = AdapterImage.build(fixedAdapter(tmp.resolve("a")), Map.of());
    Path out = tmp.resolve("adapter.tar");
    image.writeOciLayoutTar(out, "v1");
    Process tar =
        new ProcessBuilder("tar", "-tf", out.toString()).redirectErrorStream(true).start();
    List<String> entries =
        new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    assertThat(tar.waitFor()).isZero();
    assertThat(entries)
        .contains("oci-layout", "index.json", "blobs/sha256/" + image.digest().substring(7));
  }
}
