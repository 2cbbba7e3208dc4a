package sh.kaito.runtime.cli;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import sh.kaito.presets.image.DockerConfig;
import sh.kaito.presets.image.ImageException;
import sh.kaito.presets.image.RegistryCredential;

/**
 * The credentials to try for one registry, in order, as the kubelet tries a pod's image pull
 * secrets: every docker config that has an entry for the registry, else anonymous access.
 *
 * @param registry {@code host[:port]}
 * @param logins at least one; anonymous is a login without a credential
 */
record RegistryLogins(String registry, List<Login> logins) {

  /** The environment variable listing registries reached over plain HTTP. */
  static final String INSECURE_REGISTRIES_ENV = "KAITO_INSECURE_REGISTRIES";

  /**
   * Whether {@code registry} ({@code host[:port]}) is named in {@code $KAITO_INSECURE_REGISTRIES}
   * (comma-separated {@code host:port} entries, as containerd's and Docker's insecure-registry
   * settings name them): then plain HTTP, and a line on {@code log} says so. Loopback registries
   * are plain HTTP anyway; any other registry is HTTPS. There is no silent fallback from HTTPS to
   * HTTP.
   */
  static boolean plainHttp(
      String registry, java.util.Map<String, String> env, Consumer<String> log) {
    String listed = env.getOrDefault(INSECURE_REGISTRIES_ENV, "");
    for (String entry : listed.split(",")) {
      if (!entry.isBlank() && entry.strip().equalsIgnoreCase(registry)) {
        log.accept(
            "registry " + registry + ": plain HTTP (listed in " + INSECURE_REGISTRIES_ENV + ")");
        return true;
      }
    }
    return false;
  }

  /** A credential (or none) and the file it came from, for messages. */
  record Login(Optional<RegistryCredential> credential, String source) {}

  /**
   * From a directory of {@code <secret>.json} docker configs (a projected volume of {@code
   * kubernetes.io/dockerconfigjson} Secrets), sorted by file name. Files that are not docker
   * configs are reported through {@code warn} and skipped, as the kubelet skips a broken pull
   * secret.
   */
  static RegistryLogins fromDirectory(Path dir, String registry, Consumer<String> warn)
      throws CommandFailure {
    if (!Files.isDirectory(dir)) {
      throw new CommandFailure("docker config directory " + dir + " does not exist");
    }
    List<Path> files = new ArrayList<>();
    // A projected volume also holds ..data and ..<timestamp> entries; only <secret>.json counts.
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "*.json")) {
      for (Path p : s) {
        if (!p.getFileName().toString().startsWith(".") && Files.isRegularFile(p)) {
          files.add(p);
        }
      }
    } catch (IOException e) {
      throw new CommandFailure("cannot list docker configs in " + dir + ": " + e.getMessage(), e);
    }
    files.sort(null);
    List<Login> logins = new ArrayList<>();
    for (Path file : files) {
      try {
        DockerConfig.read(file)
            .credentialFor(registry)
            .filter(c -> logins.stream().noneMatch(l -> l.credential().equals(Optional.of(c))))
            .ifPresent(c -> logins.add(new Login(Optional.of(c), file.toString())));
      } catch (ImageException e) {
        warn.accept("warning: skipping " + file + ": " + e.getMessage());
      }
    }
    if (logins.isEmpty()) {
      logins.add(
          new Login(
              Optional.empty(), files.isEmpty() ? dir + " (no *.json files)" : dir.toString()));
    }
    return new RegistryLogins(registry, List.copyOf(logins));
  }

  /** One docker config file, or {@code $DOCKER_CONFIG} / {@code ~/.docker} when none is given. */
  static RegistryLogins fromConfig(DockerConfig config, String registry) {
    String source =
        config.source() == null
            ? "any docker config (none given, no ~/.docker/config.json)"
            : config.source().toString();
    return new RegistryLogins(registry, List.of(new Login(config.credentialFor(registry), source)));
  }
}
