package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.presets.cli.PresetsCli;
import sh.kaito.presets.image.AdapterImage;
import sh.kaito.presets.image.DockerConfig;
import sh.kaito.presets.image.HttpOciRegistry;
import sh.kaito.presets.image.ImageException;
import sh.kaito.presets.image.LocalRegistry;
import sh.kaito.presets.image.ModelImageLayout;
import sh.kaito.presets.image.RegistryCredential;
import sh.kaito.presets.image.TestDirs;

/**
 * {@code pull} and {@code push-adapter} against Debian's docker-registry on loopback with htpasswd
 * auth, credentials in docker configs laid out as the controller mounts them.
 */
class RuntimeRegistryIT {

  private static final RegistryCredential ALICE = new RegistryCredential("alice", "s3cret-pw");
  private static final RegistryCredential WRONG = new RegistryCredential("alice", "not-it");
  private static final RegistryCredential MALLORY = new RegistryCredential("mallory", "guess");
  private static final String PRESET = "phi-3-mini-4k-instruct";

  @TempDir static Path shared;
  private static LocalRegistry registry;
  private static Path model;
  private static Path adapter;
  private static String weightsImage;
  private static String adapterImage;

  @BeforeAll
  static void start() throws Exception {
    registry = LocalRegistry.start(shared.resolve("registry"), Optional.of(ALICE));
    model = TestDirs.modelDir(shared.resolve("model"), 11, 64 * 1024);
    adapter = TestDirs.adapterDir(shared.resolve("adapter"), 12);
    String config = registry.dockerConfig(ALICE).toString();
    weightsImage = registry.host() + "/kaito/tiny:0.0.1";
    adapterImage = registry.host() + "/adapters/tiny-lora:1";
    // Images as kaito-presets writes them: what the controller's init containers pull.
    assertPresetsCli(
        "push",
        model.toString(),
        weightsImage,
        "--uncompressed",
        "--quiet",
        "--docker-config",
        config,
        "--cache",
        shared.resolve("cache").toString());
    assertPresetsCli(
        "push",
        "--adapter",
        "--preset",
        PRESET,
        adapter.toString(),
        adapterImage,
        "--docker-config",
        config);
  }

  @AfterAll
  static void stop() {
    if (registry != null) {
      registry.close();
    }
  }

  private static void assertPresetsCli(String... args) {
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    int exit =
        PresetsCli.run(
            args,
            new java.io.PrintStream(new java.io.ByteArrayOutputStream()),
            new java.io.PrintStream(err));
    assertThat(exit).as(err.toString()).isZero();
  }

  /** {@code <secret>.json} files, as the controller's projected volume of pull secrets. */
  private static Path secretsDir(Path dir, Map<String, RegistryCredential> secrets)
      throws Exception {
    Files.createDirectories(dir);
    for (var e : secrets.entrySet()) {
      Files.writeString(
          dir.resolve(e.getKey() + ".json"), DockerConfig.toJson(registry.host(), e.getValue()));
    }
    return dir;
  }

  @Test
  void pullsWeightsAndAdaptersTryingEachPullSecret(@TempDir Path tmp) throws Exception {
    // Name order puts the wrong secret first: the right one must still be found.
    Path secrets =
        secretsDir(tmp.resolve("config.d"), Map.of("a-stale", WRONG, "b-current", ALICE));
    Files.writeString(
        secrets.resolve("c-elsewhere.json"),
        DockerConfig.toJson("ghcr.io", new RegistryCredential("x", "y")));

    RuntimeRun weights =
        RuntimeRun.of(
            "pull",
            weightsImage,
            tmp.resolve("weights").toString(),
            "--path",
            ModelImageLayout.WEIGHTS_DIR,
            "--docker-config-dir",
            secrets.toString());
    RuntimeRun lora =
        RuntimeRun.of(
            "pull",
            adapterImage,
            tmp.resolve("adapter").toString(),
            "--path",
            ModelImageLayout.ADAPTER_DIR,
            "--docker-config-dir",
            secrets.toString());

    assertThat(weights.exit()).as(weights.toString()).isZero();
    assertThat(weights.out()).startsWith("digest=sha256:").contains("files=4");
    assertThat(lora.exit()).as(lora.toString()).isZero();
    assertThat(weights.err() + lora.err()).doesNotContain(ALICE.password());
    assertThat(withoutPullRecord(tmp.resolve("weights"), weightsImage)).isTrue();
    TestDirs.assertSameFiles(tmp.resolve("weights"), model);
    assertThat(withoutPullRecord(tmp.resolve("adapter"), adapterImage)).isTrue();
    TestDirs.assertSameFiles(tmp.resolve("adapter"), adapter);
  }

  /** Checks and removes the record a complete pull leaves, so the files compare as pushed. */
  private static boolean withoutPullRecord(Path dir, String image) throws Exception {
    Path record = dir.resolve(PullCommand.RECORD);
    String text = Files.readString(record);
    Files.delete(record);
    return text.startsWith("image=" + image + " ") && text.contains(" digest=sha256:");
  }

  @Test
  void aRerunInitContainerFindsItsPullDoneAndAnotherImageIsRefused(@TempDir Path tmp)
      throws Exception {
    Path secrets = secretsDir(tmp.resolve("config.d"), Map.of("current", ALICE));
    Path target = tmp.resolve("weights");
    String[] pullWeights = {
      "pull",
      weightsImage,
      target.toString(),
      "--path",
      ModelImageLayout.WEIGHTS_DIR,
      "--docker-config-dir",
      secrets.toString()
    };
    RuntimeRun first = RuntimeRun.of(pullWeights);
    assertThat(first.exit()).as(first.toString()).isZero();

    // The pod's sandbox restarted and the volume kept the files: the init container runs again.
    RuntimeRun again = RuntimeRun.of(pullWeights);
    assertThat(again.exit()).as(again.toString()).isZero();
    assertThat(again.out()).startsWith("already pulled: image=" + weightsImage);

    RuntimeRun other =
        RuntimeRun.of(
            "pull",
            adapterImage,
            target.toString(),
            "--path",
            ModelImageLayout.ADAPTER_DIR,
            "--docker-config-dir",
            secrets.toString());
    assertThat(other.exit()).as(other.toString()).isEqualTo(1);
    assertThat(other.err()).contains("already holds another pull").contains(adapterImage);

    assertThat(withoutPullRecord(target, weightsImage)).isTrue();
    TestDirs.assertSameFiles(target, model);
  }

  @Test
  void whenNoPullSecretWorksTheErrorNamesEachOne(@TempDir Path tmp) throws Exception {
    Path secrets =
        secretsDir(tmp.resolve("config.d"), Map.of("a-stale", WRONG, "b-other", MALLORY));
    Path target = tmp.resolve("weights");

    RuntimeRun run =
        RuntimeRun.of(
            "pull",
            weightsImage,
            target.toString(),
            "--path",
            ModelImageLayout.WEIGHTS_DIR,
            "--docker-config-dir",
            secrets.toString());

    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.err().strip().lines()).hasSize(1);
    assertThat(run.errorLine())
        .startsWith("error: cannot read " + weightsImage + " with any of 2 docker configs: ")
        .contains(
            secrets.resolve("a-stale.json")
                + ": registry "
                + registry.host()
                + " rejected the credentials for user 'alice'",
            secrets.resolve("b-other.json")
                + ": registry "
                + registry.host()
                + " rejected the credentials for user 'mallory'")
        .doesNotContain(WRONG.password(), MALLORY.password());
    assertThat(target).doesNotExist();
  }

  @Test
  void withoutAnEntryForTheRegistryThePullIsAnonymousAndRefused(@TempDir Path tmp)
      throws Exception {
    Path secrets = Files.createDirectories(tmp.resolve("config.d"));

    RuntimeRun run =
        RuntimeRun.of(
            "pull",
            adapterImage,
            tmp.resolve("a").toString(),
            "--path",
            "/data",
            "--docker-config-dir",
            secrets.toString());

    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.errorLine())
        .isEqualTo(
            "error: registry "
                + registry.host()
                + " requires authentication, and there are no"
                + " credentials for "
                + registry.host()
                + " in "
                + secrets
                + " (no *.json files)");
  }

  @Test
  void aMissingImageFailsWithOneLine(@TempDir Path tmp) throws Exception {
    Path secrets = secretsDir(tmp.resolve("config.d"), Map.of("s", ALICE));
    String missing = registry.host() + "/kaito/nothing:1";

    RuntimeRun run =
        RuntimeRun.of(
            "pull",
            missing,
            tmp.resolve("w").toString(),
            "--path",
            "/workspace/weights",
            "--docker-config-dir",
            secrets.toString());

    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.err().strip())
        .isEqualTo("error: image " + missing + " not found in " + registry.host());
  }

  @Test
  void pushAdapterWaitsForTheMarkerThenPushesWhatPullGivesBack(@TempDir Path tmp) throws Exception {
    Path results = Files.createDirectories(tmp.resolve("results"));
    Files.copy(adapter.resolve("adapter_config.json"), results.resolve("adapter_config.json"));
    Path marker = results.resolve("fine_tuning_completed.txt");
    Path config = registry.dockerConfig(ALICE);
    String image = registry.host() + "/adapters/ws-tuned:0.0.1";

    ByteArrayOutputStream pusherErr = new ByteArrayOutputStream();
    CompletableFuture<RuntimeRun> pusher =
        CompletableFuture.supplyAsync(
            () ->
                RuntimeRun.of(
                    pusherErr,
                    "push-adapter",
                    results.toString(),
                    image,
                    "--preset",
                    PRESET,
                    "--wait-for",
                    marker.toString(),
                    "--docker-config",
                    config.toString()));

    // The tuner is still writing: once the pusher has looked for the marker and not found it,
    // nothing may be pushed yet.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!pusherErr.toString(StandardCharsets.UTF_8).contains("waiting for marker=" + marker)
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(pusherErr.toString(StandardCharsets.UTF_8))
        .contains("push-adapter waiting for marker=" + marker);
    assertThat(pusher).isNotDone();
    HttpOciRegistry client =
        new HttpOciRegistry(registry.host(), Optional.of(ALICE), config.toString(), false);
    assertThatThrownBy(() -> client.fetchManifest("adapters/ws-tuned", "0.0.1"))
        .isInstanceOf(ImageException.class)
        .hasMessageContaining("not found");

    Files.copy(
        adapter.resolve("adapter_model.safetensors"), results.resolve("adapter_model.safetensors"));
    Files.writeString(marker, "done");
    RuntimeRun push = pusher.get(60, TimeUnit.SECONDS);

    assertThat(push.exit()).as(push.toString()).isZero();
    assertThat(push.err()).contains("push-adapter waiting for marker=" + marker);
    String expected =
        AdapterImage.build(adapter, Map.of(ModelImageLayout.MODEL_NAME_ANNOTATION, PRESET))
            .digest();
    assertThat(push.out()).startsWith("digest=" + expected + " image=" + image);

    Path secrets = secretsDir(tmp.resolve("config.d"), Map.of("push", ALICE));
    RuntimeRun pull =
        RuntimeRun.of(
            "pull",
            image,
            tmp.resolve("mnt/adapter/ws").toString(),
            "--path",
            "/data",
            "--docker-config-dir",
            secrets.toString());
    assertThat(pull.exit()).as(pull.toString()).isZero();
    assertThat(pull.out()).startsWith("digest=" + expected);
    assertThat(withoutPullRecord(tmp.resolve("mnt/adapter/ws"), image)).isTrue();
    TestDirs.assertSameFiles(tmp.resolve("mnt/adapter/ws"), adapter);
  }

  @Test
  void pushAdapterWithWrongCredentialsFailsNamingTheRegistry(@TempDir Path tmp) throws Exception {
    Path marker = Files.writeString(tmp.resolve("fine_tuning_completed.txt"), "done");

    RuntimeRun run =
        RuntimeRun.of(
            "push-adapter",
            adapter.toString(),
            registry.host() + "/adapters/x:1",
            "--preset",
            PRESET,
            "--wait-for",
            marker.toString(),
            "--docker-config",
            registry.dockerConfig(WRONG).toString());

    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.errorLine())
        .startsWith(
            "error: registry " + registry.host() + " rejected the credentials for user 'alice'");
  }
}
