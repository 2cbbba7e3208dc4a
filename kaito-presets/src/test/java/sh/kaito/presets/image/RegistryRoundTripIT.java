package sh.kaito.presets.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Weights and adapter images through a real docker-registry on 127.0.0.1, no auth. */
class RegistryRoundTripIT {

  private static final int SHARD = 17 * 1024 * 1024; // just above the own-layer threshold

  @TempDir static Path shared;
  private static LocalRegistry registry;
  private static Path model;

  @BeforeAll
  static void start() throws Exception {
    registry = LocalRegistry.start(shared.resolve("registry"), Optional.empty());
    model = TestDirs.modelDir(shared.resolve("model"), 42, SHARD);
  }

  @AfterAll
  static void stop() throws Exception {
    if (registry != null) {
      registry.close();
    }
  }

  private WeightsImagePacker.PackResult push(String image, Path cache) throws ImageException {
    return new WeightsImagePacker(cache, Progress.NONE, Duration.ofSeconds(5))
        .pack(
            model,
            "tiny-llama-random",
            new WeightsImagePacker.Target.Registry(
                registry.host() + "/" + image, Optional.empty(), "test", false));
  }

  private HttpOciRegistry client() {
    return new HttpOciRegistry(registry.host(), Optional.empty(), "test", false);
  }

  @Test
  void weightsImagePushedThenPulledIsByteIdentical(@TempDir Path tmp) throws Exception {
    WeightsImagePacker.PackResult pushed = push("kaito/roundtrip:1", tmp.resolve("cache"));
    assertThat(pushed.layers()).as("one layer per shard plus one for small files").isEqualTo(3);

    Path target = tmp.resolve("pulled");
    ImagePuller.PullResult pulled =
        new ImagePuller(client(), Progress.NONE, Duration.ofSeconds(5))
            .pull("kaito/roundtrip", "1", ModelImageLayout.WEIGHTS_DIR, target);

    TestDirs.assertSameFiles(target, model);
    assertThat(pulled.manifestDigest()).isEqualTo(pushed.digest());
    assertThat(pulled.files()).isEqualTo(4);

    Path mount = Files.createDirectories(tmp.resolve("mount"));
    new ImagePuller(client(), Progress.NONE, Duration.ofSeconds(5))
        .pull("kaito/roundtrip", "1", ModelImageLayout.WEIGHTS_DIR, mount);
    TestDirs.assertSameFiles(mount, model);
    assertThatThrownBy(
            () ->
                new ImagePuller(client(), Progress.NONE, Duration.ofSeconds(5))
                    .pull("kaito/roundtrip", "1", ModelImageLayout.WEIGHTS_DIR, mount))
        .hasMessageContaining("is not empty");
  }

  @Test
  void uncompressedWeightsRoundTripAndAreReproducible(@TempDir Path tmp) throws Exception {
    UncompressedWeightsPusher pusher =
        new UncompressedWeightsPusher(
            client(), tmp.resolve("work"), Progress.NONE, Duration.ofSeconds(5));
    WeightsImagePacker.PackResult first = pusher.push(model, "tiny-llama-random", "kaito/raw", "1");
    WeightsImagePacker.PackResult second =
        pusher.push(model, "tiny-llama-random", "kaito/raw", "2");
    assertThat(second.digest()).isEqualTo(first.digest());
    assertThat(first.layers()).isEqualTo(3);

    JsonNode manifest =
        new ObjectMapper().readTree(client().fetchManifest("kaito/raw", "1").body());
    assertThat(manifest.path("layers").findValuesAsText("mediaType"))
        .containsOnly(MediaTypes.OCI_LAYER_TAR);

    Path target = tmp.resolve("pulled");
    new ImagePuller(client(), Progress.NONE, Duration.ofSeconds(5))
        .pull("kaito/raw", first.digest(), ModelImageLayout.WEIGHTS_DIR, target);
    TestDirs.assertSameFiles(target, model);
  }

  @Test
  void packingTheSameDirectoryTwiceGivesTheSameDigest(@TempDir Path tmp) throws Exception {
    String first = push("kaito/repro:a", tmp.resolve("cache-a")).digest();
    String second = push("kaito/repro:b", tmp.resolve("cache-b")).digest();
    assertThat(second).isEqualTo(first);

    Path touched = tmp.resolve("touched");
    Files.createDirectories(touched);
    for (Path p : List.of(model.resolve("config.json"))) {
      Files.copy(p, touched.resolve(p.getFileName()));
    }
    // A different directory gives a different digest, so the check above can fail.
    String other =
        new WeightsImagePacker(tmp.resolve("cache-c"), Progress.NONE, Duration.ofSeconds(5))
            .pack(
                touched,
                null,
                new WeightsImagePacker.Target.Registry(
                    registry.host() + "/kaito/repro:c", Optional.empty(), "test", false))
            .digest();
    assertThat(other).isNotEqualTo(first);
  }

  @Test
  void corruptedBlobIsDetectedOnPull(@TempDir Path tmp) throws Exception {
    push("kaito/corrupt:1", tmp.resolve("cache"));
    JsonNode manifest =
        new ObjectMapper().readTree(client().fetchManifest("kaito/corrupt", "1").body());
    List<JsonNode> layers = new ArrayList<>();
    manifest.path("layers").forEach(layers::add);
    JsonNode biggest =
        layers.stream()
            .max((a, b) -> Long.compare(a.path("size").asLong(), b.path("size").asLong()))
            .orElseThrow();
    flipByte(registry.blobFile(biggest.path("digest").asText()), 1000);

    Path target = tmp.resolve("pulled");
    try {
      assertThatThrownBy(
              () ->
                  new ImagePuller(client(), Progress.NONE, Duration.ofSeconds(5))
                      .pull("kaito/corrupt", "1", ModelImageLayout.WEIGHTS_DIR, target))
          .isInstanceOf(ImageException.class)
          .hasMessageContaining("corrupted layer")
          .hasMessageContaining(biggest.path("digest").asText());
      assertThat(target).doesNotExist();
      // An existing empty directory (a volume mount in an init container) stays empty.
      Path mount = Files.createDirectories(tmp.resolve("mount"));
      assertThatThrownBy(
              () ->
                  new ImagePuller(client(), Progress.NONE, Duration.ofSeconds(5))
                      .pull("kaito/corrupt", "1", ModelImageLayout.WEIGHTS_DIR, mount))
          .hasMessageContaining("corrupted layer");
      assertThat(mount).isEmptyDirectory();
      try (var siblings = Files.list(tmp)) {
        assertThat(siblings.map(p -> p.getFileName().toString()))
            .noneMatch(n -> n.contains(".partial-"));
      }
    } finally {
      flipByte(registry.blobFile(biggest.path("digest").asText()), 1000); // the blob is shared
    }
  }

  @Test
  void adapterImageRoundTripsInUpstreamLayout(@TempDir Path tmp) throws Exception {
    Path adapter = TestDirs.adapterDir(tmp.resolve("adapter"), 7);
    AdapterImage image =
        AdapterImage.build(
            adapter, Map.of(ModelImageLayout.MODEL_NAME_ANNOTATION, "phi-3-mini-4k-instruct"));
    String digest = image.push(client(), "kaito/adapter", "v1");
    assertThat(digest).isEqualTo(image.digest());

    OciRegistry.Manifest served = client().fetchManifest("kaito/adapter", "v1");
    assertThat(served.mediaType()).isEqualTo(MediaTypes.OCI_MANIFEST);
    assertThat(served.digest()).isEqualTo(digest);

    Path target = tmp.resolve("pulled");
    new ImagePuller(client(), Progress.NONE, Duration.ofSeconds(5))
        .pull("kaito/adapter", digest, ModelImageLayout.ADAPTER_DIR, target);
    TestDirs.assertSameFiles(target, adapter);
  }

  @Test
  void pullOfMissingImageNamesIt(@TempDir Path tmp) {
    assertThatThrownBy(
            () ->
                new ImagePuller(client(), Progress.NONE, Duration.ofSeconds(5))
                    .pull("kaito/nothing", "1", "/", tmp.resolve("x")))
        .isInstanceOf(ImageException.class)
        .hasMessageContaining(registry.host() + "/kaito/nothing:1 not found");
  }

  private static void flipByte(Path file, long offset) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(offset);
      int b = f.read();
      f.seek(offset);
      f.write(b ^ 0xFF);
    }
  }
}
