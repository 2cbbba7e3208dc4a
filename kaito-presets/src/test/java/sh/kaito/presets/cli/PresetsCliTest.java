package sh.kaito.presets.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PresetsCliTest {

  record Run(int exit, String out, String err) {}

  static Run cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit =
        PresetsCli.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(
        exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void everyCommandHasHelp() {
    for (String command : new String[] {"pack", "push", "pull", "list"}) {
      Run help = cli(command, "--help");
      assertThat(help.exit()).as(command).isZero();
      assertThat(help.out()).as(command).contains("Usage: kaito-presets " + command);
      assertThat(help.out() + help.err()).as(command).doesNotContain("WARN");
    }
    assertThat(cli("--help").out()).contains("pack", "push", "pull");
  }

  @Test
  void usageErrorsExitTwoAndUserErrorsExitOne(@TempDir Path tmp) {
    assertThat(cli("pull").exit()).isEqualTo(2);
    assertThat(cli("frobnicate").exit()).isEqualTo(2);
    Run missing =
        cli("pack", tmp.resolve("nope").toString(), "-o", tmp.resolve("x.tar").toString());
    assertThat(missing.exit()).isEqualTo(1);
    assertThat(missing.err()).startsWith("error: ").contains("nope is not a directory");
    assertThat(missing.err()).doesNotContain("\tat ");
  }

  @Test
  void listShowsTheCatalog() {
    Run list = cli("list");
    assertThat(list.exit()).isZero();
    assertThat(list.out())
        .containsPattern("phi-3-medium-128k-instruct +26.00 GiB +1 +28Gi +yes")
        .containsPattern("phi-2 .* deprecated")
        .containsPattern("smollm2-135m-instruct .* cpu");
  }
}
