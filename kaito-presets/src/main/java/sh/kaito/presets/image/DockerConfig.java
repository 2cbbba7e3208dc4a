package sh.kaito.presets.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Registry credentials from a docker {@code config.json}, the format of a {@code
 * kubernetes.io/dockerconfigjson} Secret's {@code .dockerconfigjson} key: {@code {"auths":
 * {"<host>": {"auth": base64(user:password)}}}} or {@code {"username", "password"}}. Credential
 * helpers ({@code credsStore}, {@code credHelpers}) are not supported.
 */
public final class DockerConfig {

  public static final DockerConfig EMPTY = new DockerConfig(Map.of(), null);

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, RegistryCredential> byHost;
  private final Path source;

  private DockerConfig(Map<String, RegistryCredential> byHost, Path source) {
    this.byHost = byHost;
    this.source = source;
  }

  /** Reads a config.json; a file that is not one fails with a message naming it. */
  public static DockerConfig read(Path file) throws ImageException {
    JsonNode root;
    try {
      root = JSON.readTree(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new ImageException("cannot read docker config " + file + ": " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new ImageException("docker config " + file + " is not a JSON object");
    }
    Map<String, RegistryCredential> map = new LinkedHashMap<>();
    JsonNode auths = root.path("auths");
    for (Iterator<Map.Entry<String, JsonNode>> it = auths.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      credentialOf(e.getValue(), file, e.getKey())
          .ifPresent(c -> map.put(normalizeHost(e.getKey()), c));
    }
    return new DockerConfig(Map.copyOf(map), file);
  }

  /**
   * The config at {@code $DOCKER_CONFIG/config.json}, else {@code ~/.docker/config.json}, else
   * {@link #EMPTY}.
   */
  public static DockerConfig fromEnvironment() throws ImageException {
    String dir = System.getenv("DOCKER_CONFIG");
    Path file =
        dir != null && !dir.isBlank()
            ? Path.of(dir, "config.json")
            : Path.of(System.getProperty("user.home"), ".docker", "config.json");
    return Files.isRegularFile(file) ? read(file) : EMPTY;
  }

  /** The credential for a registry host (with port), if the config has one. */
  public Optional<RegistryCredential> credentialFor(String registry) {
    String host = normalizeHost(registry);
    RegistryCredential c = byHost.get(host);
    if (c == null && (host.equals("registry-1.docker.io") || host.equals("docker.io"))) {
      c = byHost.getOrDefault("index.docker.io", byHost.get("docker.io"));
    }
    return Optional.ofNullable(c);
  }

  /** Where the credentials came from, for messages; null for none. */
  public Path source() {
    return source;
  }

  /** Serializes one credential as config.json text (for tests and for building Secrets). */
  public static String toJson(String registry, RegistryCredential credential) {
    String auth =
        Base64.getEncoder()
            .encodeToString(
                (credential.username() + ":" + credential.password())
                    .getBytes(StandardCharsets.UTF_8));
    return JSON.createObjectNode()
        .set(
            "auths",
            JSON.createObjectNode().set(registry, JSON.createObjectNode().put("auth", auth)))
        .toString();
  }

  private static Optional<RegistryCredential> credentialOf(JsonNode entry, Path file, String host)
      throws ImageException {
    String auth = entry.path("auth").asText("");
    if (!auth.isEmpty()) {
      String decoded;
      try {
        decoded = new String(Base64.getDecoder().decode(auth), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw new ImageException("docker config " + file + ": auth for " + host + " is not base64");
      }
      int colon = decoded.indexOf(':');
      if (colon < 0) {
        throw new ImageException(
            "docker config " + file + ": auth for " + host + " is not user:password");
      }
      return Optional.of(
          new RegistryCredential(decoded.substring(0, colon), decoded.substring(colon + 1)));
    }
    String user = entry.path("username").asText("");
    String password = entry.path("password").asText("");
    if (!user.isEmpty()) {
      return Optional.of(new RegistryCredential(user, password));
    }
    String token = entry.path("identitytoken").asText("");
    if (!token.isEmpty()) {
      return Optional.of(new RegistryCredential("<token>", token));
    }
    return Optional.empty();
  }

  /** {@code https://host:port/v1/} and {@code host:port} both become {@code host:port}. */
  static String normalizeHost(String key) {
    String h = key.trim().toLowerCase(Locale.ROOT);
    int scheme = h.indexOf("://");
    if (scheme >= 0) {
      h = h.substring(scheme + 3);
    }
    int slash = h.indexOf('/');
    if (slash >= 0) {
      h = h.substring(0, slash);
    }
    return h.equals("index.docker.io") ? "index.docker.io" : h;
  }
}
