package sh.kaito.testsupport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the repository root: the first folder at or above the working directory with
 * hack/cluster/up.
 */
final class RepoRoot {

  private RepoRoot() {}

  static Path workingDir() {
    return Path.of(System.getProperty("user.dir")).toAbsolutePath();
  }

  static Optional<Path> find() {
    String configured = System.getenv("KAITO_REPO_ROOT");
    if (configured != null && !configured.isBlank()) {
      return Optional.of(Path.of(configured).toAbsolutePath());
    }
    for (Path dir = workingDir(); dir != null; dir = dir.getParent()) {
      if (Files.isExecutable(dir.resolve("hack/cluster/up"))) {
        return Optional.of(dir);
      }
    }
    return Optional.empty();
  }
}
