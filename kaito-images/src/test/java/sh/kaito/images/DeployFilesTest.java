package sh.kaito.images;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The install carries copies of kaito-api's CRDs (kustomize and Helm read files below their own
 * folder only); they must be the same bytes, and every pod the install writes runs as the images'
 * non-root user.
 */
class DeployFilesTest {
  private final Path root = BuiltImages.repoRoot();

  @Test
  void crdCopiesMatchKaitoApi() throws Exception {
    Path source = root.resolve("kaito-api/src/main/resources/crds");
    List<Path> crds;
    try (Stream<Path> files = Files.list(source)) {
      crds = files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
    }
    assertThat(crds).hasSize(2);
    for (Path crd : crds) {
      for (String copyDir : List.of("deploy/crds", "charts/kaito-java/crds")) {
        Path copy = root.resolve(copyDir).resolve(crd.getFileName());
        assertThat(copy).as("copy it: cp " + crd + " " + copy).exists();
        assertThat(Files.readString(copy))
            .as(copy + " differs from " + crd + ": copy it again")
            .isEqualTo(Files.readString(crd));
      }
    }
  }

  @Test
  void workloadsRunAsTheImagesNonRootUserWithTheImagesClasspath() throws Exception {
    for (String file : List.of("deploy/controller.yaml", "deploy/provisioner.yaml")) {
      String yaml = Files.readString(root.resolve(file));
      assertThat(yaml).as(file).contains("runAsUser: " + BaseImage.UID).contains("\"/app/libs/*\"");
      assertThat(yaml).as(file).doesNotContain("/app/lib/*");
    }
  }
}
