package sh.kaito.images;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import sh.kaito.presets.image.LocalRegistry;

/**
 * The images every IT of this module uses, built once per test JVM into a local registry (Debian's
 * docker-registry on 127.0.0.1) with the shared jib layer cache, so that a warm run of the suite
 * repacks nothing. The registry stops when the JVM exits.
 */
final class BuiltImages {
  static final String TAG = "it";

  final LocalRegistry registry;
  final Map<ImageBuilder.Kind, ImageBuilder.Built> images;

  private static BuiltImages instance;

  private BuiltImages(LocalRegistry registry, Map<ImageBuilder.Kind, ImageBuilder.Built> images) {
    this.registry = registry;
    this.images = images;
  }

  static synchronized BuiltImages get() throws Exception {
    if (instance == null) {
      Path dir = Files.createDirectories(Path.of("target", "it-registry").toAbsolutePath());
      DjlNatives.deleteTree(dir.resolve("storage"));
      LocalRegistry registry = LocalRegistry.start(dir, Optional.empty());
      Runtime.getRuntime().addShutdownHook(new Thread(registry::close));
      Map<ImageBuilder.Kind, ImageBuilder.Built> images =
          new ImageBuilder(inputs(cacheDir(), Files.createTempDirectory("kaito-images-it")), log())
              .buildAll(ImageBuilder.Target.registry(registry.host() + "/kaito", true), TAG);
      instance = new BuiltImages(registry, images);
    }
    return instance;
  }

  String reference(ImageBuilder.Kind kind) {
    return images.get(kind).reference();
  }

  static ImageBuilder.Inputs inputs(Path cache, Path work) {
    return new ImageBuilder.Inputs(
        repoRoot(),
        System.getProperty("kaito.version", "0.1.0-SNAPSHOT"),
        "it-revision",
        "https://github.com/kaito-project/kaito",
        requiredPath("KAITO_BASE_ROOTFS", "hack/setup/40-base-image.sh"),
        Optional.of(requiredPath("KAITO_PAUSE_BIN", "hack/setup/45-containerd.sh")),
        cache,
        work,
        Optional.empty(),
        Optional.of(requiredPath("KAITO_CURL_ROOTFS", "hack/setup/40-base-image.sh")));
  }

  static Path repoRoot() {
    return Path.of(System.getProperty("kaito.repo.root", "..")).toAbsolutePath().normalize();
  }

  static Path cacheDir() {
    String cache = System.getenv("KAITO_CACHE");
    return cache != null && !cache.isBlank()
        ? Path.of(cache)
        : Path.of(System.getProperty("user.home"), ".cache", "kaito-java");
  }

  static Path requiredPath(String env, String setup) {
    String value = System.getenv(env);
    if (value == null || value.isBlank() || !Files.exists(Path.of(value))) {
      throw new IllegalStateException("$" + env + " is not set or missing: source " + setup);
    }
    return Path.of(value);
  }

  static int freePort() throws java.io.IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** {@code POST /chat} asking for four tokens, as a client of the runtime would. */
  static java.net.http.HttpResponse<String> chat(java.net.http.HttpClient http, String base)
      throws Exception {
    return http.send(
        java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/chat"))
            .timeout(java.time.Duration.ofSeconds(60))
            .POST(
                java.net.http.HttpRequest.BodyPublishers.ofString(
                    "{\"prompt\": \"Hi\", \"generate_kwargs\": {\"max_new_tokens\": 4}}"))
            .build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
  }

  /** Folders 0755 and files 0644 below {@code dir}: the images run as uid 65532. */
  static void worldReadable(Path dir) throws Exception {
    try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.toList()) {
        Files.setPosixFilePermissions(
            p,
            java.nio.file.attribute.PosixFilePermissions.fromString(
                Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
      }
    }
  }

  static java.util.function.Consumer<String> log() {
    return line -> System.out.println("[kaito-images] " + line);
  }
}
