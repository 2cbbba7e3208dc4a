package sh.kaito.runtime.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import sh.kaito.presets.image.ImageException;

/**
 * {@code kaito-runtime VERB ...}: the entrypoint of every container the controller starts (see
 * docs/controller.md, "Command-line contract"). Exit codes: 0 done, 1 failed (one line on stderr,
 * never a stack trace), 2 bad usage.
 *
 * <p>Every verb is registered here and nowhere else.
 */
@Command(
    name = "kaito-runtime",
    mixinStandardHelpOptions = true,
    version = "kaito-runtime 0.1.0",
    description = "Kaito's workload entrypoint: the verbs the controller's pods run.",
    subcommands = {
      PullCommand.class,
      FetchDataCommand.class,
      PushAdapterCommand.class,
      ServeCommand.class,
      TuneCommand.class
    })
public final class RuntimeMain implements Callable<Integer> {

  static final int OK = 0;
  static final int FAILED = 1;
  static final int USAGE = 2;

  @Spec CommandSpec spec;

  /**
   * False once {@code serve} ran: it returns only after SIGTERM, when the JVM is already shutting
   * down, and {@code System.exit} from there would wait forever for the shutdown hooks.
   */
  volatile boolean exitWhenDone = true;

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return USAGE;
  }

  public static void main(String[] args) {
    // Keep SLF4J's "no providers" notice off stderr when no logging backend is on the classpath.
    if (System.getProperty("slf4j.internal.verbosity") == null) {
      System.setProperty("slf4j.internal.verbosity", "ERROR");
    }
    RuntimeMain root = new RuntimeMain();
    int code = run(root, args, System.out, System.err);
    if (code != OK || root.exitWhenDone) {
      System.exit(code);
    }
  }

  /** Runs one command line and returns its exit code; for tests and embedding. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    return run(new RuntimeMain(), args, out, err);
  }

  private static int run(RuntimeMain root, String[] args, PrintStream out, PrintStream err) {
    CommandLine cl = new CommandLine(root);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setParameterExceptionHandler(
        (ex, ignoredArgs) -> {
          CommandLine cmd = ex.getCommandLine();
          cmd.getErr()
              .println(
                  "error: "
                      + ex.getMessage()
                      + " (usage: "
                      + cmd.getCommandSpec().qualifiedName()
                      + " --help)");
          return USAGE;
        });
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          cmd.getErr().println("error: " + messageOf(ex));
          return FAILED;
        });
    return cl.execute(args);
  }

  /** The one line a user sees: our own failures carry a complete message; others get their type. */
  static String messageOf(Exception ex) {
    if (ex instanceof CommandFailure || ex instanceof ImageException) {
      return oneLine(ex.getMessage());
    }
    if (ex instanceof InterruptedException) {
      return "interrupted";
    }
    String message = ex.getMessage();
    return ex.getClass().getSimpleName() + (message == null ? "" : ": " + oneLine(message));
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", " ");
  }
}
