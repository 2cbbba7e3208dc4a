package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Exit codes and one-line errors of {@code kaito-runtime}, for failures that need no registry. */
class RuntimeMainTest {

  @TempDir Path tmp;

  @Test
  void noVerbPrintsUsageAndExits2() {
    RuntimeRun run = RuntimeRun.of();

    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.err()).contains("pull", "fetch-data", "push-adapter");
  }

  @Test
  void unknownVerbOrMissingOptionExits2WithOneLine() {
    RuntimeRun unknown = RuntimeRun.of("train");
    RuntimeRun noPath = RuntimeRun.of("pull", "127.0.0.1:1/m:1", tmp.toString());
    RuntimeRun noMarker =
        RuntimeRun.of("push-adapter", tmp.toString(), "127.0.0.1:1/a:1", "--preset", "p");

    assertThat(unknown.exit()).isEqualTo(2);
    assertThat(unknown.err()).contains("Unmatched argument", "train");
    assertThat(noPath.exit()).isEqualTo(2);
    assertThat(noPath.err().strip())
        .isEqualTo(
            "error: Missing required option: '--path=PATH_IN_IMAGE'"
                + " (usage: kaito-runtime pull --help)");
    assertThat(noMarker.exit()).isEqualTo(2);
    assertThat(noMarker.err()).contains("--wait-for");
  }

  @Test
  void helpExits0() {
    RuntimeRun run = RuntimeRun.of("fetch-data", "--help");

    assertThat(run.exit()).isZero();
    assertThat(run.out()).contains("Usage: kaito-runtime fetch-data", "--to=DIR");
  }

  @Test
  @Timeout(30)
  void pushAdapterRejectsTheSeedsPlaceholderImageWithoutWaitingForTheMarker() {
    // The marker never appears: a bad reference must fail at once, not after training.
    RuntimeRun run =
        RuntimeRun.of(
            "push-adapter",
            tmp.toString(),
            "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1",
            "--preset",
            "phi-3-mini-4k-instruct",
            "--wait-for",
            tmp.resolve("fine_tuning_completed.txt").toString());

    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.err().strip())
        .isEqualTo(
            "error: invalid image reference \"ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1\"");
  }

  @Test
  @Timeout(30)
  void pushAdapterFailsAtOnceOnAMissingDockerConfig() {
    RuntimeRun run =
        RuntimeRun.of(
            "push-adapter",
            tmp.toString(),
            "127.0.0.1:1/adapters/a:1",
            "--preset",
            "phi-3-mini-4k-instruct",
            "--wait-for",
            tmp.resolve("never").toString(),
            "--docker-config",
            tmp.resolve("missing/config.json").toString());

    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.errorLine())
        .startsWith("error: cannot read docker config " + tmp.resolve("missing/config.json"));
  }

  @Test
  void pushAdapterFailsClearlyWhenTheAdapterIsIncomplete() throws Exception {
    Path results = Files.createDirectories(tmp.resolve("results"));
    Files.writeString(results.resolve("adapter_config.json"), "{\"r\": 8}");
    Path marker = Files.writeString(results.resolve("fine_tuning_completed.txt"), "done");

    RuntimeRun run =
        RuntimeRun.of(
            "push-adapter",
            results.toString(),
            "127.0.0.1:1/adapters/a:1",
            "--preset",
            "phi-3-mini-4k-instruct",
            "--wait-for",
            marker.toString());

    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.errorLine())
        .isEqualTo(
            "error: "
                + results
                + " has no adapter_model.safetensors (an adapter directory needs"
                + " [adapter_config.json, adapter_model.safetensors])");
  }

  @Test
  void unexpectedExceptionsBecomeOneLineWithoutAStackTrace() {
    String line =
        RuntimeMain.messageOf(new IllegalStateException("first line\n  at somewhere\nlast"));

    assertThat(line).isEqualTo("IllegalStateException: first line at somewhere last");
  }
}
