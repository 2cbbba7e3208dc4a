package sh.kaito.provisioner.local;

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

/** Commands on this machine (ip, iptables, umount, ctr) and what /proc says about it. */
final class Host {
  private Host() {}

  record Result(int exitCode, String output) {
    boolean ok() {
      return exitCode == 0;
    }
  }

  /** Runs a command to its end (at most {@code timeout}), with stdin from {@code input}. */
  static Result run(Duration timeout, String input, String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      try (var in = p.getOutputStream()) {
        if (input != null) {
          in.write(input.getBytes(StandardCharsets.UTF_8));
        }
      }
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        return new Result(-1, String.join(" ", command) + ": timed out after " + timeout);
      }
      return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Result(-1, String.join(" ", command) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, String.join(" ", command) + ": interrupted");
    }
  }

  static Result run(String... command) {
    return run(Duration.ofSeconds(60), null, command);
  }

  /** Runs a command that must succeed. */
  static String must(String... command) {
    Result r = run(command);
    if (!r.ok()) {
      throw new IllegalStateException(
          String.join(" ", command) + " failed (exit " + r.exitCode + "): " + r.output.strip());
    }
    return r.output;
  }

  /** Mount points at or below {@code dir}, deepest first. */
  static List<String> mountsUnder(Path dir) {
    String prefix = dir.toString();
    try {
      return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
          .map(l -> l.split(" ")[1])
          .filter(m -> m.equals(prefix) || m.startsWith(prefix + "/"))
          .sorted(Comparator.reverseOrder())
          .toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  /** Unmounts everything at or below {@code dir} (lazily: a busy mount goes when it is free). */
  static void unmountUnder(Path dir) {
    for (String m : mountsUnder(dir)) {
      run("umount", "-l", m);
    }
  }

  /** Deletes a folder tree; refuses while anything below it is still mounted. */
  static void deleteTree(Path dir) {
    if (!Files.exists(dir) || !mountsUnder(dir).isEmpty()) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new IllegalStateException("could not delete " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Pids of live processes whose command line contains {@code needle} as one argument. */
  static List<Long> pidsWithArgument(String needle) {
    List<Long> pids = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : procs.toList()) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        try {
          String cmdline = Files.readString(p.resolve("cmdline"), StandardCharsets.UTF_8);
          for (String arg : cmdline.split("\0")) {
            if (arg.equals(needle)) {
              pids.add(Long.parseLong(name));
              break;
            }
          }
        } catch (IOException e) {
          // gone meanwhile
        }
      }
    } catch (IOException e) {
      return pids;
    }
    return pids;
  }

  /** SIGTERM, then SIGKILL after {@code grace}; waits until the process is gone. */
  static void stop(ProcessHandle p, Duration grace) {
    if (!p.isAlive()) {
      return;
    }
    p.destroy();
    try {
      p.onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      p.destroyForcibly();
      try {
        p.onExit().get(10, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // reported by the caller's checks
      }
    }
  }
}
