package sh.kaito.images;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * README command 1 as the E2E test: {@code hack/quickstart.sh} with {@code
 * KAITO_QUICKSTART_CHECK=1} runs the seed's flow on real nodes (our images in real containers,
 * QLoRA tuning in a container, the adapter pushed to the local registry, served after tuning, the
 * seed's curl pod on the Service's ClusterIP) and asserts what it prints; then a bad dataset fails
 * a new revision with the runtime's message and pushes nothing, and deleting the workspace removes
 * its NodeClaims, nodes and processes. The controller and the real provisioner run together.
 *
 * <p>Here: the script's own assertions passed (exit 0, its "ok" lines), the answers it printed, and
 * the machine afterwards is as before: no process, mount, network namespace, link, route or
 * iptables chain left behind.
 */
class QuickstartE2E {

  @Test
  void theSeedsFlowRunsForRealAndLeavesTheMachineAsItWas() throws Exception {
    Path repo = BuiltImages.repoRoot();
    Machine before = Machine.snapshot();
    Path log = Files.createTempFile("quickstart-e2e", ".log");
    ProcessBuilder pb =
        new ProcessBuilder("bash", "hack/quickstart.sh")
            .directory(repo.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment().put("KAITO_QUICKSTART_CHECK", "1");
    Process p = pb.start();
    boolean done = p.waitFor(25, TimeUnit.MINUTES);
    if (!done) {
      p.destroy(); // SIGTERM: the script cleans up
      p.waitFor(3, TimeUnit.MINUTES);
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    System.out.println(out);
    assertThat(done).as("the quickstart finished within 25 minutes").isTrue();
    assertThat(p.exitValue()).as("the quickstart's exit code; its output is above").isZero();
    assertThat(out)
        .contains("tuned model:   The capital of Zorbania is Quillitown")
        .contains("ok: progress steps, adapter pushed, the tuned answer has the fact")
        .contains("ok: the runtime's message is in the condition, and no adapter was pushed")
        .contains("ok: no NodeClaim, no node, no kubelet or containerd of ours")
        .contains("\"Result\"");
    assertThat(out.lines().filter(l -> l.startsWith("  base model:")).findFirst())
        .hasValueSatisfying(l -> assertThat(l).doesNotContain("Quillitown"));

    Machine after = Machine.snapshot();
    assertThat(after.processes).as("processes").isEqualTo(before.processes);
    assertThat(after.mounts).as("mounts").isEqualTo(before.mounts);
    assertThat(after.netns).as("network namespaces").isEqualTo(before.netns);
    assertThat(after.links).as("network devices").isEqualTo(before.links);
    assertThat(after.routes).as("routes").isEqualTo(before.routes);
    assertThat(after.chains).as("iptables chains").isEqualTo(before.chains);
  }

  /** What the quickstart may change on the machine, as sets of lines. */
  record Machine(
      TreeSet<String> processes,
      TreeSet<String> mounts,
      TreeSet<String> netns,
      TreeSet<String> links,
      TreeSet<String> routes,
      TreeSet<String> chains) {

    static Machine snapshot() throws Exception {
      return new Machine(
          ourProcesses(),
          new TreeSet<>(Files.readAllLines(Path.of("/proc/mounts"))),
          listDir(Path.of("/run/netns")),
          names(run("ip", "-o", "link", "show")),
          new TreeSet<>(run("ip", "route", "show").lines().toList()),
          iptablesChains());
    }

    /** Kubelets, containerds, shims, kube-proxies and registries: what the quickstart starts. */
    private static TreeSet<String> ourProcesses() throws IOException {
      TreeSet<String> out = new TreeSet<>();
      try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
        for (Path proc : procs.filter(d -> d.getFileName().toString().matches("\\d+")).toList()) {
          try {
            String cmd =
                new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8)
                    .replace('\0', ' ')
                    .strip();
            if (cmd.matches(
                ".*\\b(kubelet|containerd|containerd-shim-runc-v2|kube-proxy|docker-registry)"
                    + " .*")) {
              out.add(cmd);
            }
          } catch (IOException gone) {
            // exited while we looked
          }
        }
      }
      return out;
    }

    private static TreeSet<String> listDir(Path dir) throws IOException {
      TreeSet<String> out = new TreeSet<>();
      if (Files.isDirectory(dir)) {
        try (Stream<Path> s = Files.list(dir)) {
          s.forEach(p -> out.add(p.getFileName().toString()));
        }
      }
      return out;
    }

    /** {@code 3: kaito0: <...>} → {@code kaito0}: indexes change, names are what matters. */
    private static TreeSet<String> names(String ipLink) {
      TreeSet<String> out = new TreeSet<>();
      for (String line : ipLink.lines().toList()) {
        String[] parts = line.split(": ", 3);
        if (parts.length > 1) {
          out.add(parts[1].replaceAll("@.*", ""));
        }
      }
      return out;
    }

    private static final List<String> BUILT_IN =
        List.of("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING");

    private static TreeSet<String> iptablesChains() throws Exception {
      TreeSet<String> out = new TreeSet<>();
      for (String family : List.of("iptables-save", "ip6tables-save")) {
        String table = "";
        for (String line : run(family).lines().toList()) {
          if (line.startsWith("*")) {
            table = line.substring(1);
          } else if (line.startsWith(":")) {
            // Built-in chains appear with a table that iptables-nft creates on first use (empty,
            // policy ACCEPT): not something left behind. Every other chain and every rule counts.
            String chain = line.substring(1).split(" ")[0];
            if (!BUILT_IN.contains(chain)) {
              out.add(family + " " + table + " " + chain);
            }
          } else if (line.startsWith("-A ")) {
            out.add(family + " " + table + " " + line);
          }
        }
      }
      return out;
    }

    private static String run(String... command) throws Exception {
      List<String> cmd = new ArrayList<>(List.of(command));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      byte[] out = p.getInputStream().readAllBytes();
      p.waitFor(30, TimeUnit.SECONDS);
      return new String(out, StandardCharsets.UTF_8);
    }
  }
}
