package sh.kaito.images;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.images.ImageBuilder.Kind;

/**
 * Builds every image twice from the same commit: once into the local registry with the shared layer
 * cache, once into OCI tars with an empty cache (every layer packed again, libtorch unpacked
 * again). Both give the same digests. The pushed images carry the entrypoints, user and labels the
 * install relies on.
 */
class ImagesIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();

  @TempDir Path tmp;

  @Test
  void aSecondBuildFromAnEmptyCacheGivesTheSameDigests() throws Exception {
    BuiltImages first = BuiltImages.get();
    Map<Kind, ImageBuilder.Built> second =
        new ImageBuilder(
                BuiltImages.inputs(tmp.resolve("cold-cache"), tmp.resolve("work")),
                BuiltImages.log())
            .buildAll(ImageBuilder.Target.tars(tmp.resolve("tars")), BuiltImages.TAG);

    assertThat(second.keySet())
        .containsExactly(
            Kind.BASE, Kind.CONTROLLER, Kind.PROVISIONER, Kind.RUNTIME, Kind.CURL, Kind.PAUSE);
    for (Kind kind : second.keySet()) {
      assertThat(second.get(kind).digest())
          .as(kind + " manifest digest")
          .isEqualTo(first.images.get(kind).digest());
      assertThat(second.get(kind).imageId())
          .as(kind + " config digest")
          .isEqualTo(first.images.get(kind).imageId());
      assertThat(tmp.resolve("tars").resolve(kind.repository + ".tar")).isNotEmptyFile();
    }
  }

  @Test
  void imagesCarryTheirEntrypointsUserAndLabels() throws Exception {
    BuiltImages built = BuiltImages.get();
    JsonNode runtime = config(built, Kind.RUNTIME).path("config");
    assertThat(texts(runtime.path("Entrypoint"))).containsExactly("kaito-runtime");
    assertThat(runtime.path("User").asText()).isEqualTo("65532:65532");
    assertThat(texts(runtime.path("Env")))
        .contains("DJL_CACHE_DIR=/opt/djl", "PYTORCH_FLAVOR=cpu")
        .anyMatch(e -> e.startsWith("PYTORCH_LIBRARY_PATH=/opt/djl/pytorch/2.7.1-"));
    assertThat(runtime.path("Labels").path("org.opencontainers.image.revision").asText())
        .isEqualTo("it-revision");
    assertThat(runtime.path("Labels").path("org.opencontainers.image.version").asText())
        .isEqualTo(System.getProperty("kaito.version", "0.1.0-SNAPSHOT"));
    assertThat(runtime.path("Labels").path("org.opencontainers.image.source").asText())
        .startsWith("https://");

    JsonNode controller = config(built, Kind.CONTROLLER).path("config");
    assertThat(texts(controller.path("Entrypoint")))
        .containsExactly("java", "-cp", "/app/libs/*", "sh.kaito.controller.OperatorMain");
    assertThat(controller.path("User").asText()).isEqualTo("65532:65532");
    JsonNode provisioner = config(built, Kind.PROVISIONER).path("config");
    assertThat(texts(provisioner.path("Entrypoint")))
        .containsExactly("java", "-cp", "/app/libs/*", "sh.kaito.provisioner.ProvisionerMain");
    assertThat(texts(config(built, Kind.PAUSE).path("config").path("Entrypoint")))
        .containsExactly("/pause");
  }

  private JsonNode config(BuiltImages built, Kind kind) throws Exception {
    String base = "http://" + built.registry.host() + "/v2/kaito/" + kind.repository;
    JsonNode manifest =
        get(base + "/manifests/" + BuiltImages.TAG, "application/vnd.oci.image.manifest.v1+json");
    return get(base + "/blobs/" + manifest.path("config").path("digest").asText(), "*/*");
  }

  private JsonNode get(String url, String accept) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(url)).header("Accept", accept).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(url + " " + r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
