package sh.kaito.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A containerd of our own (Debian's 1.6, hack/setup/45-containerd.sh) with its root, state, socket
 * and plugin folders under one folder of ours; containers run by runc through {@code ctr}, in the
 * host's network namespace (no netns, no CNI, no iptables rule is made). {@link #close} kills every
 * task, deletes the containers and images, stops containerd, unmounts whatever is still mounted
 * under the folder and deletes it: the machine looks as before.
 */
final class Containerd implements AutoCloseable {
  static final String NAMESPACE = "kaito-it";

  /** Where containerd's shims and runc keep sockets and state whatever the config says. */
  private static final Path RUN_DIR = Path.of("/run/containerd");

  private final Path dir;
  private final Path socket;
  private final boolean runDirExisted;
  private final Process process;
  private final List<String> containers = new ArrayList<>();

  private Containerd(Path dir, Process process, boolean runDirExisted) {
    this.dir = dir;
    this.runDirExisted = runDirExisted;
    this.socket = dir.resolve("containerd.sock");
    this.process = process;
  }

  /** Starts containerd in a fresh folder under /tmp (a unix socket path must stay short). */
  static Containerd start() throws Exception {
    boolean runDirExisted = Files.exists(RUN_DIR);
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "kcd-");
    Files.writeString(
        dir.resolve("config.toml"),
        """
        version = 2
        root = "%1$s/root"
        state = "%1$s/state"
        disabled_plugins = ["io.containerd.grpc.v1.cri"]
        [grpc]
          address = "%1$s/containerd.sock"
        [ttrpc]
          address = "%1$s/containerd.sock.ttrpc"
        [plugins."io.containerd.internal.v1.opt"]
          path = "%1$s/opt"
        """
            .formatted(dir));
    Process p =
        new ProcessBuilder(
                binary("KAITO_CONTAINERD_BIN"), "--config", dir.resolve("config.toml").toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("containerd.log").toFile())
            .start();
    Containerd c = new Containerd(dir, p, runDirExisted);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException("containerd exited:\n" + c.log());
      }
      if (Files.exists(c.socket) && c.ctr("version").exitCode == 0) {
        return c;
      }
      Thread.sleep(100);
    }
    c.close();
    throw new IllegalStateException("containerd did not answer:\n" + c.log());
  }

  record Result(int exitCode, String output) {}

  Result ctr(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(binary("KAITO_CTR_BIN"));
    command.add("--address");
    command.add(socket.toString());
    command.add("--namespace");
    command.add(NAMESPACE);
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IllegalStateException("ctr " + String.join(" ", args) + " hung");
    }
    return new Result(p.exitValue(), out);
  }

  Result ctrOrFail(String... args) throws Exception {
    Result r = ctr(args);
    if (r.exitCode != 0) {
      throw new IllegalStateException("ctr " + String.join(" ", args) + " failed:\n" + r.output);
    }
    return r;
  }

  /** Pulls (and unpacks) an image from a plain-HTTP loopback registry. */
  void pull(String reference) throws Exception {
    ctrOrFail("images", "pull", "--plain-http", reference);
  }

  /**
   * {@code ctr run -d}: the image's user, environment and working folder; {@code args} empty keeps
   * the image's entrypoint. stdout and stderr go to {@code log}.
   */
  void run(String id, String image, List<String> options, List<String> args, Path log)
      throws Exception {
    List<String> command = new ArrayList<>(List.of("run", "-d", "--net-host"));
    command.add("--log-uri");
    command.add("file://" + log);
    command.addAll(options);
    command.add(image);
    command.add(id);
    command.addAll(args);
    containers.add(id);
    ctrOrFail(command.toArray(String[]::new));
  }

  /** The task's status column ({@code RUNNING}, {@code STOPPED}), empty once it is gone. */
  String status(String id) throws Exception {
    for (String line : ctr("tasks", "ls").output.lines().toList()) {
      String[] cols = line.trim().split("\\s+");
      if (cols.length >= 3 && cols[0].equals(id)) {
        return cols[2];
      }
    }
    return "";
  }

  void signal(String id, String signal) throws Exception {
    ctrOrFail("tasks", "kill", "--signal", signal, id);
  }

  Path dir() {
    return dir;
  }

  String log() {
    try {
      return Files.readString(dir.resolve("containerd.log"));
    } catch (IOException e) {
      return "";
    }
  }

  @Override
  public void close() {
    try {
      for (String id : containers) {
        ctr("tasks", "kill", "--signal", "SIGKILL", id);
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline && status(id).equals("RUNNING")) {
          Thread.sleep(100);
        }
        ctr("tasks", "delete", "--force", id);
        ctr("containers", "delete", id);
      }
      for (String ref : ctr("images", "ls", "--quiet").output.lines().toList()) {
        if (!ref.isBlank()) {
          ctr("images", "rm", ref.strip());
        }
      }
    } catch (Exception e) {
      // fall through: stopping containerd and unmounting still happen
    }
    process.destroy();
    try {
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
      // Snapshots or shim mounts left behind (a crashed run) must not outlive the test.
      for (String mount : mountsUnder(dir)) {
        new ProcessBuilder("umount", "-l", mount).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
      }
      // The shim's and runc's folders for our namespace (and /run/containerd if we made it).
      List<Path> runDirs = new ArrayList<>(List.of(RUN_DIR.resolve("runc").resolve(NAMESPACE)));
      if (!runDirExisted) {
        runDirs.addAll(
            List.of(
                RUN_DIR.resolve("fifo"), RUN_DIR.resolve("s"), RUN_DIR.resolve("runc"), RUN_DIR));
      }
      for (Path d : runDirs) {
        deleteIfEmptyDir(d);
      }
      if (mountsUnder(dir).isEmpty()) {
        try (Stream<Path> all = Files.walk(dir)) {
          for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException("could not clean up " + dir + ": " + e, e);
    }
  }

  private static void deleteIfEmptyDir(Path d) throws IOException {
    if (Files.isDirectory(d)) {
      try (Stream<Path> children = Files.list(d)) {
        if (children.findAny().isPresent()) {
          return;
        }
      }
      Files.delete(d);
    }
  }

  /** Mount points at or below {@code dir}, deepest first. */
  static List<String> mountsUnder(Path dir) throws IOException {
    String prefix = dir.toString();
    return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
        .map(l -> l.split(" ")[1])
        .filter(m -> m.equals(prefix) || m.startsWith(prefix + "/"))
        .sorted(Comparator.reverseOrder())
        .toList();
  }

  private static String binary(String env) {
    return BuiltImages.requiredPath(env, "hack/setup/45-containerd.sh").toString();
  }
}
