package sh.kaito.presets.image;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.mindrot.jbcrypt.BCrypt;

/**
 * Debian's {@code docker-registry} (distribution 2.x) on a free 127.0.0.1 port, with its own config
 * and storage in a temp directory; optionally with htpasswd auth. Stopped by killing the process we
 * started. The binary comes from {@code $KAITO_REGISTRY_BIN} (hack/setup/20-registry.sh) or PATH.
 *
 * <p>Shared with other modules' ITs through kaito-presets' test-jar.
 */
public final class LocalRegistry implements AutoCloseable {

  public final Path dir;
  public final Path storage;
  public final int port;
  public final Optional<RegistryCredential> user;
  private final Process process;

  private LocalRegistry(Path dir, int port, Optional<RegistryCredential> user, Process process) {
    this.dir = dir;
    this.storage = dir.resolve("storage");
    this.port = port;
    this.user = user;
    this.process = process;
  }

  public static Path binary() {
    String env = System.getenv("KAITO_REGISTRY_BIN");
    if (env != null && !env.isBlank() && Files.isExecutable(Path.of(env))) {
      return Path.of(env);
    }
    for (String p : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
      Path candidate = Path.of(p, "docker-registry");
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException(
        "docker-registry not found: run hack/setup/20-registry.sh (apt-get install docker-registry)");
  }

  public static LocalRegistry start(Path dir, Optional<RegistryCredential> user) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Files.createDirectories(dir.resolve("storage"));
    StringBuilder config =
        new StringBuilder()
            .append("version: 0.1\n")
            .append("log: {level: error}\n")
            .append("storage:\n")
            .append("  filesystem: {rootdirectory: ")
            .append(dir.resolve("storage"))
            .append("}\n")
            .append("  delete: {enabled: true}\n")
            .append("  maintenance: {uploadpurging: {enabled: false}}\n")
            .append("http: {addr: 127.0.0.1:")
            .append(port)
            .append(", secret: kaito-test}\n");
    if (user.isPresent()) {
      Path htpasswd = dir.resolve("htpasswd");
      String hash = BCrypt.hashpw(user.get().password(), BCrypt.gensalt(4));
      Files.writeString(htpasswd, user.get().username() + ":" + hash + "\n");
      config.append("auth:\n  htpasswd: {realm: kaito-test, path: ").append(htpasswd).append("}\n");
    }
    Path configFile = dir.resolve("config.yml");
    Files.writeString(configFile, config.toString());
    Process process =
        new ProcessBuilder(binary().toString(), "serve", configFile.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("registry.log").toFile())
            .start();
    LocalRegistry registry = new LocalRegistry(dir, port, user, process);
    registry.awaitReady();
    return registry;
  }

  public String host() {
    return "127.0.0.1:" + port;
  }

  /** A docker config.json with this registry's credential (or the one given). */
  public Path dockerConfig(RegistryCredential credential) throws IOException {
    Path file = Files.createTempFile(dir, "config", ".json");
    Files.writeString(file, DockerConfig.toJson(host(), credential));
    return file;
  }

  /** The file the registry stores a blob in. */
  public Path blobFile(String digest) {
    String hex = digest.substring("sha256:".length());
    return storage.resolve(
        "docker/registry/v2/blobs/sha256/" + hex.substring(0, 2) + "/" + hex + "/data");
  }

  private void awaitReady() throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "docker-registry exited: "
                + Files.readString(dir.resolve("registry.log"), StandardCharsets.UTF_8));
      }
      try {
        int status =
            http.send(
                    HttpRequest.newBuilder(URI.create("http://" + host() + "/v2/")).build(),
                    HttpResponse.BodyHandlers.discarding())
                .statusCode();
        if (status == 200 || status == 401) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(100);
    }
    close();
    throw new IllegalStateException("docker-registry did not start on " + host());
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
