package sh.kaito.presets.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PresetsCliTest {

  @Test
  void everyCommandHasHelp() {
    for (String command : new String[] {"pack", "push", "pull", "import-gguf", "list"}) {
      CliRun help = CliRun.of(command, "--help");
      assertThat(help.exit()).as(command).isZero();
      assertThat(help.out()).as(command).contains("Usage: kaito-presets " + command);
      assertThat(help.out() + help.err()).as(command).doesNotContain("WARN");
    }
    assertThat(CliRun.of("--help").out()).contains("pack", "push", "pull");
  }

  @Test
  void usageErrorsExitTwoAndUserErrorsExitOne(@TempDir Path tmp) {
    assertThat(CliRun.of("pull").exit()).isEqualTo(2);
    assertThat(CliRun.of("frobnicate").exit()).isEqualTo(2);
    CliRun missing =
        CliRun.of("pack", tmp.resolve("nope").toString(), "-o", tmp.resolve("x.tar").toString());
    assertThat(missing.exit()).isEqualTo(1);
    assertThat(missing.err()).startsWith("error: ").contains("nope is not a directory");
    assertThat(missing.err()).doesNotContain("\tat ");
  }

  @Test
  void listShowsTheCatalog() {
    CliRun list = CliRun.of("list");
    assertThat(list.exit()).isZero();
    assertThat(list.out())
        .containsPattern("phi-3-medium-128k-instruct +26.00 GiB +1 +28Gi +yes")
        .containsPattern("phi-2 .* deprecated")
        .containsPattern("smollm2-135m-instruct .* cpu");
  }
}
