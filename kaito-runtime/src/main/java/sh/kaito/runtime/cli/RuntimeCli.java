package sh.kaito.runtime.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code kaito-runtime}: the one entrypoint of every workload container the controller creates (see
 * docs/controller.md, "Command-line contract"). Exit codes: 0 done, 1 failed (a one-line message on
 * stderr), 2 bad usage.
 */
@Command(
    name = "kaito-runtime",
    mixinStandardHelpOptions = true,
    version = "kaito-runtime 0.1.0",
    description = "Kaito's workload runtime: serve a model (more verbs to come).",
    subcommands = {ServeCommand.class})
public final class RuntimeCli implements Callable<Integer> {

  PrintStream err;

  @Override
  public Integer call() {
    new CommandLine(this).usage(err);
    return 2;
  }

  public static void main(String[] args) {
    int code = run(args, System.out, System.err);
    if (code != 0) {
      System.exit(code);
    }
    // 0: help, or serve after SIGTERM (the JVM is already shutting down; exit would block)
  }

  /** Runs the command line and returns its exit code; for tests and embedding. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    RuntimeCli root = new RuntimeCli();
    root.err = err;
    CommandLine cl = new CommandLine(root);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          err.println("error: " + ex.getMessage());
          return 1;
        });
    return cl.execute(args);
  }
}
