package sh.kaito.provisioner.local;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.provisioner.cloud.LaunchException;

/**
 * What all real nodes on this machine share: the bridge with the Service CIDR routed onto it, one
 * kube-proxy (iptables rules are machine-wide, so one cluster of real nodes at a time: a lock file
 * says whose), and the host-local address store. {@link #up} snapshots what it will change (sysctls
 * the kubelet and the bridge plugin set, iptables chains in both families); {@link #down} puts all
 * of it back: kube-proxy's rules ({@code kube-proxy --cleanup}), the kubelet's chains, the route
 * and the bridge (only if it made them), the sysctls.
 */
final class HostNetwork {
  private static final Logger log = LoggerFactory.getLogger(HostNetwork.class);

  /** Machine-wide: iptables and the sysctls have one owner at a time. */
  static final Path LOCK = Path.of("/run/kaito-real-nodes.lock");

  /** What the kubelet (kernel tunables), the bridge plugin and kube-proxy may change. */
  private static final List<String> SYSCTLS =
      List.of(
          "net/ipv4/ip_forward",
          "net/ipv4/conf/all/route_localnet",
          "net/bridge/bridge-nf-call-iptables",
          "net/bridge/bridge-nf-call-ip6tables",
          "vm/overcommit_memory",
          "vm/panic_on_oom",
          "kernel/panic",
          "kernel/panic_on_oops",
          "kernel/keys/root_maxkeys",
          "kernel/keys/root_maxbytes");

  private static final List<String> FAMILIES = List.of("iptables", "ip6tables");

  private final RealNodeSettings settings;
  private final String serviceCidr;
  private FileChannel lockFile;
  private FileLock lock;
  private boolean bridgeMade;
  private boolean routeMade;
  private final Map<String, String> sysctls = new LinkedHashMap<>();
  private final Map<String, Set<String>> chainsBefore = new LinkedHashMap<>();
  private Process kubeProxy;

  /**
   * Folders the kubelet, containerd's shims and runc make outside the nodes' folders whatever the
   * configuration says: the container log links, the device-plugin socket folder, the shims' socket
   * folder, and each cgroup hierarchy's {@code k8s.io} parent. Those that did not exist at {@link
   * #up} are removed at {@link #down}.
   */
  private static final List<Path> OUTSIDE =
      List.of(
          Path.of("/var/log/containers"), Path.of("/var/lib/kubelet"), Path.of("/run/containerd"));

  private final List<Path> outsideMissing = new java.util.ArrayList<>();

  HostNetwork(RealNodeSettings settings, String serviceCidr) {
    this.settings = settings;
    this.serviceCidr = serviceCidr;
  }

  Path ipamDir() {
    return settings.stateDir().resolve("ipam");
  }

  private Path proxyLog() {
    return settings.stateDir().resolve("kube-proxy.log");
  }

  /**
   * Takes the machine, makes the bridge and the route, starts kube-proxy.
   *
   * @throws LaunchException {@code HostBusy} when another cluster's real nodes run here
   */
  void up(String hostname) throws LaunchException {
    try {
      lockFile = FileChannel.open(LOCK, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      lock = lockFile.tryLock();
    } catch (IOException | OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      closeLockFile();
      throw LaunchException.retryable(
          "HostBusy",
          "another set of real nodes runs on this machine (it holds "
              + LOCK
              + "); iptables rules are machine-wide, so stop that provisioner first");
    }
    try {
      Files.createDirectories(ipamDir());
      for (Path p : outside()) {
        if (!Files.exists(p)) {
          outsideMissing.add(p);
        }
      }
      for (String key : SYSCTLS) {
        Path p = Path.of("/proc/sys", key);
        if (Files.isReadable(p)) {
          sysctls.put(key, readSysctl(p));
        }
      }
      for (String family : FAMILIES) {
        chainsBefore.put(family, IptablesChains.chains(save(family)));
      }
      makeBridge();
      makeRoute();
      startKubeProxy(hostname);
      log.info(
          "event=HostNetworkUp bridge={} gateway={} serviceCidr={} routed={}",
          settings.bridge(),
          settings.subnet().gatewayCidr(),
          serviceCidr,
          routeMade);
    } catch (RuntimeException | IOException e) {
      down();
      throw LaunchException.retryable(
          "HostNetworkFailed", "could not set up the bridge and kube-proxy: " + e.getMessage());
    }
  }

  private void makeBridge() {
    String br = settings.bridge();
    if (Host.run("ip", "link", "show", br).ok()) {
      String addrs = Host.must("ip", "-4", "-o", "addr", "show", "dev", br);
      if (!addrs.contains(" " + settings.subnet().gatewayCidr() + " ")) {
        throw new IllegalStateException(
            "bridge " + br + " exists without " + settings.subnet().gatewayCidr() + ": " + addrs);
      }
      return;
    }
    Host.must("ip", "link", "add", br, "type", "bridge");
    bridgeMade = true;
    Host.must("ip", "addr", "add", settings.subnet().gatewayCidr(), "dev", br);
    Host.must("ip", "link", "set", br, "up");
  }

  private void makeRoute() {
    String existing = Host.must("ip", "-4", "route", "show", serviceCidr).strip();
    if (!existing.isEmpty()) {
      if (!existing.contains("dev " + settings.bridge())) {
        throw new IllegalStateException(
            "the Service CIDR " + serviceCidr + " is already routed elsewhere: " + existing);
      }
      return;
    }
    Host.must("ip", "route", "add", serviceCidr, "dev", settings.bridge());
    routeMade = true;
  }

  private void startKubeProxy(String hostname) throws IOException {
    Path config = settings.stateDir().resolve("kube-proxy.yaml");
    Files.writeString(
        config,
        RealNodeFiles.kubeProxyConfig(
            settings.kubeconfig(), settings.subnet().cidr(), hostname, Ports.free(), Ports.free()));
    kubeProxy =
        new ProcessBuilder(
                settings.binaries().kubeProxy().toString(), "--config=" + config, "--v=1")
            .redirectErrorStream(true)
            .redirectOutput(proxyLog().toFile())
            .start();
  }

  /** The end of kube-proxy's log, for error messages. */
  String proxyLogTail() {
    return RealNode.tail(proxyLog());
  }

  boolean proxyAlive() {
    return kubeProxy != null && kubeProxy.isAlive();
  }

  /** Puts the machine back as {@link #up} found it and lets the next cluster have it. */
  void down() {
    if (kubeProxy != null) {
      Host.stop(kubeProxy.toHandle(), Duration.ofSeconds(10));
      kubeProxy = null;
    }
    Host.run(settings.binaries().kubeProxy().toString(), "--cleanup", "--v=0");
    for (String family : FAMILIES) {
      Set<String> before = chainsBefore.get(family);
      if (before == null) {
        continue;
      }
      String script = IptablesChains.removalScript(save(family), before);
      if (!script.isEmpty()) {
        Host.Result r = Host.run(Duration.ofSeconds(60), script, family + "-restore", "--noflush");
        if (!r.ok()) {
          log.warn(
              "event=IptablesCleanupFailed family={} output=\"{}\"", family, r.output().strip());
        }
      }
    }
    if (routeMade) {
      Host.run("ip", "route", "del", serviceCidr, "dev", settings.bridge());
      routeMade = false;
    }
    if (bridgeMade) {
      Host.run("ip", "link", "del", settings.bridge());
      bridgeMade = false;
    }
    sysctls.forEach(
        (key, value) -> {
          Path p = Path.of("/proc/sys", key);
          try {
            String now = readSysctl(p);
            if (!now.equals(value)) {
              Files.writeString(p, value);
              log.info("event=SysctlRestored key={} from={} to={}", key, now, value);
            }
          } catch (IOException e) {
            log.warn("event=SysctlRestoreFailed key={} error=\"{}\"", key, e.getMessage());
          }
        });
    sysctls.clear();
    chainsBefore.clear();
    Host.deleteTree(ipamDir());
    try {
      Files.deleteIfExists(proxyLog());
      Files.deleteIfExists(settings.stateDir().resolve("kube-proxy.yaml"));
    } catch (IOException e) {
      // reported by the folder check below
    }
    for (Path p : outsideMissing) {
      removeMade(p);
    }
    outsideMissing.clear();
    if (Files.isDirectory(settings.stateDir())) {
      try (var left = Files.list(settings.stateDir())) {
        if (left.findAny().isEmpty()) {
          Files.delete(settings.stateDir());
        }
      } catch (IOException e) {
        log.warn("event=StateDirLeft path={} error=\"{}\"", settings.stateDir(), e.getMessage());
      }
    }
    if (lock != null) {
      try {
        Files.deleteIfExists(LOCK);
        lock.release();
      } catch (IOException e) {
        log.warn("event=UnlockFailed error=\"{}\"", e.getMessage());
      }
      lock = null;
    }
    closeLockFile();
    log.info("event=HostNetworkDown bridge={}", settings.bridge());
  }

  /**
   * A /proc/sys value in one read: the kernel answers a read at a non-zero offset with end of file,
   * so a reader that starts with one byte (as {@code Files.readString} does on a file of size 0)
   * sees {@code 1} for {@code 10}.
   */
  static String readSysctl(Path p) throws IOException {
    try (var in = Files.newInputStream(p)) {
      byte[] buf = new byte[4096];
      int n = in.read(buf);
      return n <= 0
          ? ""
          : new String(buf, 0, n, java.nio.charset.StandardCharsets.US_ASCII).strip();
    }
  }

  /** {@link #OUTSIDE} and every cgroup hierarchy's {@code k8s.io} folder. */
  private static List<Path> outside() {
    List<Path> all = new java.util.ArrayList<>(OUTSIDE);
    try (var hierarchies = Files.list(Path.of("/sys/fs/cgroup"))) {
      hierarchies.filter(Files::isDirectory).forEach(h -> all.add(h.resolve("k8s.io")));
    } catch (IOException e) {
      // no cgroup file system: nothing of ours there either
    }
    return all;
  }

  /**
   * Removes a folder that did not exist at {@link #up}, child folders first. Files are deleted only
   * under the kubelet's folders; /run/containerd may meanwhile hold another containerd's shim
   * sockets (an empty folder goes, one in use stays), and on cgroupfs {@code rmdir} needs no files
   * removed.
   */
  private static void removeMade(Path p) {
    if (!Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    boolean files = p.startsWith("/var/lib/kubelet") || p.startsWith("/var/log/containers");
    try (var children = Files.list(p)) {
      for (Path c : children.toList()) {
        if (Files.isDirectory(c, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          removeMade(c);
        } else if (files) {
          Files.deleteIfExists(c);
        }
      }
      Files.delete(p);
    } catch (java.nio.file.DirectoryNotEmptyException e) {
      log.info("event=FolderInUse path={}", p);
    } catch (IOException e) {
      log.warn("event=FolderLeft path={} error=\"{}\"", p, e.toString());
    }
  }

  private void closeLockFile() {
    if (lockFile != null) {
      try {
        lockFile.close();
      } catch (IOException ignored) {
        // nothing to do
      }
      lockFile = null;
    }
  }

  private static String save(String family) {
    Host.Result r = Host.run(family + "-save");
    return r.ok() ? r.output() : "";
  }
}
