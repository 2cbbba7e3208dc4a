package sh.kaito.runtime.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** One {@code kaito-runtime} invocation in-process: exit code, stdout and stderr. */
record RuntimeRun(int exit, String out, String err) {

  static RuntimeRun of(String... args) {
    return of(new ByteArrayOutputStream(), args);
  }

  /**
   * As {@link #of(String...)}, with stderr written to {@code err} as it comes, so a test can watch
   * a run that has not finished (ByteArrayOutputStream is synchronized: read it with toString).
   */
  static RuntimeRun of(ByteArrayOutputStream err, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int exit =
        RuntimeMain.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new RuntimeRun(
        exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** The last stderr line: the one-line error of a failed run. */
  String errorLine() {
    String[] lines = err.strip().split("\n");
    return lines[lines.length - 1];
  }

  @Override
  public String toString() {
    return "exit=" + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
  }
}
