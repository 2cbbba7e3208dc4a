package sh.kaito.provisioner.local;

import io.fabric8.kubernetes.api.model.Taint;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One real node's processes: its own containerd (root, state, sockets, runc state and network
 * namespaces under the node's folder) and a kubelet registering as the node. {@link #stop} ends
 * both, kills what containers are left, and removes every mount and file it made.
 */
final class RealNode {
  private static final Logger log = LoggerFactory.getLogger(RealNode.class);

  /** The CRI plugin's containerd namespace. */
  private static final String K8S_NAMESPACE = "k8s.io";

  private static final Path CONTAINER_LOG_LINKS = Path.of("/var/log/containers");

  final String claimName;
  final String nodeName;
  final String providerID;
  final String instanceType;
  final int gpus;
  final Instant createdAt;
  final RealNodeFiles.Layout layout;
  private final RealNodeSettings settings;
  private Process containerd;
  private Process kubelet;

  private RealNode(
      String claimName,
      String nodeName,
      String providerID,
      String instanceType,
      int gpus,
      RealNodeSettings settings,
      RealNodeFiles.Layout layout) {
    this.claimName = claimName;
    this.nodeName = nodeName;
    this.providerID = providerID;
    this.instanceType = instanceType;
    this.gpus = gpus;
    this.settings = settings;
    this.layout = layout;
    this.createdAt = Instant.now();
  }

  /**
   * Writes the node's files, starts containerd, waits until it answers (a second or two), then
   * starts the kubelet, which registers the node on its own.
   */
  static RealNode start(
      RealNodeSettings settings,
      HostNetwork network,
      String claimName,
      String nodeName,
      String providerID,
      String instanceType,
      int gpus,
      List<Taint> taints,
      String clientCaPem)
      throws IOException {
    RealNodeFiles.Layout l = new RealNodeFiles.Layout(settings.stateDir().resolve(nodeName));
    RealNode node = new RealNode(claimName, nodeName, providerID, instanceType, gpus, settings, l);
    try {
      Files.createDirectories(l.dir());
      Files.createDirectories(l.cniConfDir());
      Files.writeString(l.clientCa(), clientCaPem);
      Files.createFile(
          l.containerdConfig(),
          java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
              java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
      Files.writeString(
          l.containerdConfig(),
          RealNodeFiles.containerdConfig(
              l, settings.pauseImage(), settings.binaries().cniBinDir(), settings.registryAuths()));
      Files.writeString(
          l.cniConfDir().resolve("10-kaito.conflist"),
          RealNodeFiles.cniConflist(settings.bridge(), settings.subnet(), network.ipamDir()));
      for (Map.Entry<String, String> host : RealNodeFiles.registryHosts(settings).entrySet()) {
        Path dir = Files.createDirectories(l.registryHosts().resolve(host.getKey()));
        Files.writeString(dir.resolve("hosts.toml"), host.getValue());
      }
      Files.writeString(
          l.kubeletConfig(),
          RealNodeFiles.kubeletConfig(
              l, settings.subnet().gateway(), Ports.free(), Ports.free(), providerID, taints));
      node.containerd =
          new ProcessBuilder(
                  settings.binaries().containerd().toString(),
                  "--config",
                  l.containerdConfig().toString())
              .redirectErrorStream(true)
              .redirectOutput(l.log("containerd").toFile())
              .start();
      node.awaitContainerd();
      node.kubelet =
          new ProcessBuilder(
                  RealNodeFiles.kubeletArgs(
                      settings.binaries().kubelet(),
                      l,
                      settings.kubeconfig(),
                      nodeName,
                      settings.subnet().gateway()))
              .redirectErrorStream(true)
              .redirectOutput(l.log("kubelet").toFile())
              .start();
      log.info(
          "event=RealNodeStarted node={} containerdPid={} kubeletPid={} dir={}",
          nodeName,
          node.containerd.pid(),
          node.kubelet.pid(),
          l.dir());
      return node;
    } catch (IOException | RuntimeException e) {
      String logs = node.logs();
      node.stop();
      throw new IOException(e.getMessage() + logs, e);
    }
  }

  private void awaitContainerd() throws IOException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      if (!containerd.isAlive()) {
        throw new IOException("containerd exited at start");
      }
      if (Files.exists(layout.containerdSocket()) && ctr("version").ok()) {
        return;
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while containerd started");
      }
    }
    throw new IOException("containerd did not answer on " + layout.containerdSocket() + " in 30s");
  }

  /** Whether both processes still run. */
  boolean alive() {
    return containerd != null && containerd.isAlive() && kubelet != null && kubelet.isAlive();
  }

  private Host.Result ctr(String... args) {
    String[] command = new String[args.length + 5];
    command[0] = ctrBinary().toString();
    command[1] = "--address";
    command[2] = layout.containerdSocket().toString();
    command[3] = "--namespace";
    command[4] = K8S_NAMESPACE;
    System.arraycopy(args, 0, command, 5, args.length);
    return Host.run(Duration.ofSeconds(30), null, command);
  }

  private Path ctrBinary() {
    Path next = settings.binaries().containerd().resolveSibling("ctr");
    return Files.isExecutable(next) ? next : Path.of("ctr");
  }

  /**
   * Stops the kubelet, kills and deletes every container left in containerd, stops containerd and
   * its shims, unmounts what is mounted under the node's folder and deletes it. Idempotent.
   */
  void stop() {
    if (kubelet != null) {
      Host.stop(kubelet.toHandle(), Duration.ofSeconds(10));
    }
    if (containerd != null && containerd.isAlive()) {
      for (String task : ctr("tasks", "ls", "-q").output().lines().toList()) {
        if (!task.isBlank()) {
          ctr("tasks", "kill", "--signal", "SIGKILL", task.strip());
        }
      }
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      for (String task : ctr("tasks", "ls", "-q").output().lines().toList()) {
        while (!task.isBlank() && System.nanoTime() < deadline) {
          if (ctr("tasks", "delete", "--force", task.strip()).ok()
              || !ctr("tasks", "ls", "-q").output().contains(task.strip())) {
            break;
          }
          sleep(200);
        }
      }
      for (String c : ctr("containers", "ls", "-q").output().lines().toList()) {
        if (!c.isBlank()) {
          ctr("containers", "delete", c.strip());
        }
      }
      Host.stop(containerd.toHandle(), Duration.ofSeconds(15));
    }
    // A shim outlives containerd by design; ours are the ones started with our socket.
    for (long pid : Host.pidsWithArgument(layout.containerdSocket().toString())) {
      ProcessHandle.of(pid).ifPresent(p -> Host.stop(p, Duration.ofSeconds(5)));
    }
    Host.unmountUnder(layout.dir());
    removeContainerLogLinks();
    Host.deleteTree(layout.dir());
    log.info("event=RealNodeStopped node={} left={}", nodeName, Files.exists(layout.dir()));
  }

  /** The kubelet's links in /var/log/containers that point into this node's folder. */
  private void removeContainerLogLinks() {
    if (!Files.isDirectory(CONTAINER_LOG_LINKS)) {
      return;
    }
    try (Stream<Path> links = Files.list(CONTAINER_LOG_LINKS)) {
      for (Path link : links.toList()) {
        if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).startsWith(layout.dir())) {
          Files.deleteIfExists(link);
        }
      }
    } catch (IOException e) {
      log.warn("event=LogLinkCleanupFailed node={} error=\"{}\"", nodeName, e.getMessage());
    }
  }

  /** The end of both logs, for error messages. */
  String logs() {
    return "\n--- containerd log ---\n"
        + tail(layout.log("containerd"))
        + "\n--- kubelet log ---\n"
        + tail(layout.log("kubelet"));
  }

  static String tail(Path file) {
    try {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
