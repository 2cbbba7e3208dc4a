package sh.kaito.presets.image;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.presets.cli.CliRun;

/** The CLI against a docker-registry with htpasswd auth: right and wrong credentials. */
class RegistryAuthIT {

  private static final RegistryCredential ALICE = new RegistryCredential("alice", "s3cret-pw");

  @TempDir static Path shared;
  private static LocalRegistry registry;
  private static Path model;
  private static Path adapter;

  @BeforeAll
  static void start() throws Exception {
    registry = LocalRegistry.start(shared.resolve("registry"), Optional.of(ALICE));
    model = TestDirs.modelDir(shared.resolve("model"), 3, 64 * 1024);
    adapter = TestDirs.adapterDir(shared.resolve("adapter"), 4);
  }

  @AfterAll
  static void stop() {
    if (registry != null) {
      registry.close();
    }
  }

  private static CliRun cli(String... args) {
    return CliRun.of(args);
  }

  @Test
  void pushAndPullWithCredentialsFromDockerConfig(@TempDir Path tmp) throws Exception {
    String config = registry.dockerConfig(ALICE).toString();
    String image = registry.host() + "/models/tiny:1";

    CliRun push =
        cli(
            "push",
            model.toString(),
            image,
            "--docker-config",
            config,
            "--cache",
            tmp.resolve("c").toString());
    assertThat(push.exit()).as(push.err()).isZero();
    assertThat(push.out()).startsWith("digest=sha256:");

    CliRun pull =
        cli(
            "pull",
            image,
            tmp.resolve("out").toString(),
            "--path",
            "/workspace/weights",
            "--docker-config",
            config);
    assertThat(pull.exit()).as(pull.err()).isZero();
    TestDirs.assertSameFiles(tmp.resolve("out"), model);

    CliRun pushAdapter =
        cli(
            "push",
            "--adapter",
            "--preset",
            "phi-3-mini-4k-instruct",
            adapter.toString(),
            registry.host() + "/adapters/a:1",
            "--docker-config",
            config);
    assertThat(pushAdapter.exit()).as(pushAdapter.err()).isZero();
    CliRun pullAdapter =
        cli(
            "pull",
            registry.host() + "/adapters/a:1",
            tmp.resolve("a").toString(),
            "--path",
            "/data",
            "--docker-config",
            config);
    assertThat(pullAdapter.exit()).as(pullAdapter.err()).isZero();
    TestDirs.assertSameFiles(tmp.resolve("a"), adapter);
  }

  @Test
  void wrongCredentialsFailWithAMessageNamingTheRegistry(@TempDir Path tmp) throws Exception {
    String wrong =
        registry.dockerConfig(new RegistryCredential("alice", "not-the-password")).toString();
    String image = registry.host() + "/models/denied:1";

    for (CliRun run :
        new CliRun[] {
          cli(
              "push",
              model.toString(),
              image,
              "--docker-config",
              wrong,
              "--cache",
              tmp.resolve("c").toString()),
          cli("push", "--adapter", adapter.toString(), image, "--docker-config", wrong),
          cli("pull", image, tmp.resolve("out").toString(), "--docker-config", wrong)
        }) {
      assertThat(run.exit()).isEqualTo(1);
      assertThat(run.err())
          .contains("registry " + registry.host())
          .contains("rejected the credentials for user 'alice'")
          .contains(wrong)
          .doesNotContain("\tat ")
          .doesNotContain("not-the-password");
    }
  }

  @Test
  void missingCredentialsSaySo(@TempDir Path tmp) throws Exception {
    Path empty = tmp.resolve("config.json");
    java.nio.file.Files.writeString(empty, "{\"auths\": {}}");
    CliRun pull =
        cli(
            "pull",
            registry.host() + "/models/tiny:1",
            tmp.resolve("out").toString(),
            "--docker-config",
            empty.toString());
    assertThat(pull.exit()).isEqualTo(1);
    assertThat(pull.err()).contains("registry " + registry.host() + " requires authentication");
  }
}
