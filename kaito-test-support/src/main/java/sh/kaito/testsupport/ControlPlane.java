package sh.kaito.testsupport;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A Kubernetes control plane for tests: either one this JVM started with {@code hack/cluster/up}
 * (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1), or an
 * existing one named by a kubeconfig.
 *
 * <p>{@link #start} and {@link #stop} are the only ways processes are started or stopped: {@code
 * stop} runs {@code hack/cluster/down}, which stops exactly the pids {@code up} recorded.
 */
public final class ControlPlane implements AutoCloseable {

  private static final Duration START_TIMEOUT = Duration.ofMinutes(5);
  private static final Duration STOP_TIMEOUT = Duration.ofMinutes(1);

  private final Path kubeconfig;
  private final Optional<Path> stateDir;
  private final Optional<Path> repoRoot;

  private ControlPlane(Path kubeconfig, Optional<Path> stateDir, Optional<Path> repoRoot) {
    this.kubeconfig = kubeconfig;
    this.stateDir = stateDir;
    this.repoRoot = repoRoot;
  }

  /**
   * Starts a fresh control plane whose state (pki, logs, pids, etcd data, kubeconfig) lives in
   * {@code stateDir}. Builds the binaries first if they are not cached (tens of minutes, once). On
   * failure the message carries the failing component's log.
   */
  public static ControlPlane start(Path repoRoot, Path stateDir) {
    Path dir = stateDir.toAbsolutePath();
    // A JVM killed earlier may have left a control plane in this folder; it is ours by pid file.
    runScript(repoRoot, "down", dir, STOP_TIMEOUT);
    String out = runScript(repoRoot, "up", dir, START_TIMEOUT);
    Path kubeconfig = Path.of(lastLine(out));
    if (!Files.isRegularFile(kubeconfig)) {
      throw new IllegalStateException("hack/cluster/up printed no kubeconfig path:\n" + out);
    }
    return new ControlPlane(kubeconfig, Optional.of(dir), Optional.of(repoRoot));
  }

  /** Uses a control plane that is already running; {@link #stop} leaves it alone. */
  public static ControlPlane existing(Path kubeconfig) {
    return new ControlPlane(kubeconfig.toAbsolutePath(), Optional.empty(), RepoRoot.find());
  }

  public Path kubeconfig() {
    return kubeconfig;
  }

  /** True if this JVM started the processes (and {@link #stop} stops them). */
  public boolean owned() {
    return stateDir.isPresent();
  }

  /** The folder with {@code logs/}, {@code pids/} and {@code kubeconfig}, if this JVM owns it. */
  public Optional<Path> stateDir() {
    return stateDir;
  }

  /** The pids {@code up} recorded, by component name; empty for a control plane not owned. */
  public Map<String, Long> pids() {
    if (stateDir.isEmpty()) {
      return Map.of();
    }
    Path pidDir = stateDir.get().resolve("pids");
    if (!Files.isDirectory(pidDir)) {
      return Map.of();
    }
    try (Stream<Path> files = Files.list(pidDir)) {
      return files
          .filter(f -> f.getFileName().toString().endsWith(".pid"))
          .collect(
              java.util.stream.Collectors.toMap(
                  f -> f.getFileName().toString().replaceFirst("\\.pid$", ""),
                  f -> Long.parseLong(read(f).strip())));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A new client for this control plane; the caller closes it. */
  public KubernetesClient newClient() {
    Config config = Config.fromKubeconfig(read(kubeconfig));
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  /**
   * Runs the kubectl that was built with the control plane (falls back to {@code kubectl} on the
   * PATH) against this control plane, and returns its exit code and output.
   */
  public CommandResult kubectl(String... args) {
    List<String> command = new ArrayList<>();
    command.add(kubectlBinary());
    command.add("--kubeconfig=" + kubeconfig);
    command.addAll(List.of(args));
    return CommandResult.run(
        command, Map.of(), repoRoot.orElse(Path.of(".")), Duration.ofMinutes(2));
  }

  /**
   * Runs {@code hack/cluster/fake-node} with these arguments, e.g. {@code fakeNode("gpu-0",
   * "--gpus", "2", "--taint")}; it returns once the node is Ready.
   */
  public void fakeNode(String... args) {
    Path root = requireRepoRoot();
    List<String> command = new ArrayList<>();
    command.add(root.resolve("hack/cluster/fake-node").toString());
    command.addAll(List.of(args));
    CommandResult result =
        CommandResult.run(
            command, Map.of("KUBECONFIG", kubeconfig.toString()), root, Duration.ofMinutes(2));
    if (result.exitCode() != 0) {
      throw new IllegalStateException("fake-node failed:\n" + result.output());
    }
  }

  /** Stops the processes this JVM started; does nothing for a control plane it did not start. */
  public void stop() {
    if (stateDir.isPresent()) {
      runScript(requireRepoRoot(), "down", stateDir.get(), STOP_TIMEOUT);
    }
  }

  @Override
  public void close() {
    stop();
  }

  private String kubectlBinary() {
    String bin = System.getenv("KAITO_KUBE_BIN");
    if (bin != null && Files.isExecutable(Path.of(bin, "kubectl"))) {
      return Path.of(bin, "kubectl").toString();
    }
    if (stateDir.isPresent()) {
      // up writes the folder of the binaries it used into its env file.
      for (String line : read(stateDir.get().resolve("env")).split("\n")) {
        if (line.startsWith("export KAITO_KUBE_BIN=")) {
          return Path.of(line.substring("export KAITO_KUBE_BIN=".length()), "kubectl").toString();
        }
      }
    }
    return "kubectl";
  }

  private Path requireRepoRoot() {
    return repoRoot.orElseThrow(
        () -> new IllegalStateException("hack/cluster not found above " + RepoRoot.workingDir()));
  }

  private static String runScript(Path repoRoot, String script, Path stateDir, Duration timeout) {
    Path path = repoRoot.resolve("hack/cluster").resolve(script);
    CommandResult result =
        CommandResult.run(
            List.of(path.toString()),
            Map.of("KAITO_CP_DIR", stateDir.toString()),
            repoRoot,
            timeout);
    if (result.exitCode() != 0) {
      throw new IllegalStateException(
          "hack/cluster/"
              + script
              + " failed (exit "
              + result.exitCode()
              + "):\n"
              + result.output());
    }
    return result.stdout();
  }

  private static String lastLine(String text) {
    String[] lines = text.strip().split("\n");
    return lines[lines.length - 1].strip();
  }

  static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Exit code and output of a finished command. */
  public record CommandResult(int exitCode, String stdout, String stderr) {

    public String output() {
      return stdout + stderr;
    }

    static CommandResult run(
        List<String> command, Map<String, String> env, Path workingDir, Duration timeout) {
      try {
        Path out = Files.createTempFile("kaito-cmd", ".out");
        Path err = Files.createTempFile("kaito-cmd", ".err");
        try {
          ProcessBuilder builder =
              new ProcessBuilder(command)
                  .directory(workingDir.toFile())
                  .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                  .redirectOutput(out.toFile())
                  .redirectError(err.toFile());
          builder.environment().putAll(env);
          Process process = builder.start();
          if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException(
                "timed out after " + timeout + ": " + command + "\n" + read(out) + read(err));
          }
          return new CommandResult(process.exitValue(), read(out), read(err));
        } finally {
          Files.deleteIfExists(out);
          Files.deleteIfExists(err);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted: " + command, e);
      }
    }
  }
}
