package sh.kaito.images;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.RegistryImage;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.yaml.KaitoYaml;
import sh.kaito.controller.ControllerOptions;
import sh.kaito.controller.manifests.NodeClaims;
import sh.kaito.images.ImageBuilder.Kind;
import sh.kaito.presets.image.LocalRegistry;
import sh.kaito.presets.image.RegistryCredential;
import sh.kaito.provisioner.ProvisionerMain;
import sh.kaito.runtime.server.TinyModels;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The provisioner with {@code --provider=local-real}, as its own process, turns a NodeClaim into a
 * real node on this machine (kubelet + containerd + runc + CNI bridge + kube-proxy): the node turns
 * Ready with the claim's labels and taint and a GPU as an extended resource (its sandbox image from
 * a registry with a password, through the provisioner's Docker config); the runtime image, pulled
 * from the local registry, serves a tiny model in a real container whose log the API returns; its
 * Service's ClusterIP answers HTTP through kube-proxy. Deleting the claim removes the node while a
 * second, idle node and the network stay; stopping the provisioner (SIGTERM) stops that node too,
 * and the machine looks as before: no kubelet, containerd or kube-proxy of ours, the same network
 * devices, routes, iptables chains and mounts.
 */
@WithControlPlane
class RealNodeIT {
  private static final Duration READY_TIMEOUT = Duration.ofMinutes(3);

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @Test
  void aNodeClaimBecomesARealNodeThatRunsOurImageBehindAServiceAndLeavesNothing(
      KubernetesClient client, ControlPlane cp) throws Exception {
    BuiltImages images = BuiltImages.get();
    String ns = TestNamespaces.create(client, "real-node");
    // Unique per run: two runs on one machine must not share a bridge or folder (the second one
    // would wait for the first's lock).
    String id = UUID.randomUUID().toString().replace("-", "").substring(0, 6);
    Path stateDir = Path.of("/tmp", "krn-" + id);
    String bridge = "krn" + id;
    String subnet = "10.89." + (1 + (int) (Math.random() * 250)) + ".0/24";
    NodeClaim claim = claim(ns, ns);
    String claimName = claim.getMetadata().getName();
    String nodeName = "kaito-real-" + claimName;
    // A second node, idle, shares the bridge and kube-proxy; it is still running when the
    // provisioner is stopped, so the stop itself must put the machine back.
    NodeClaim idle = claim(ns + "-idle", ns);
    String idleNode = "kaito-real-" + idle.getMetadata().getName();

    awaitMachineFree();
    Snapshot before = Snapshot.take(stateDir);
    Path shared = Files.createTempDirectory(Path.of("/tmp"), "krn-model-");
    // The sandbox image from a registry with a password: containerd pulls it with the login of
    // --real-node-docker-config (the kubelet's pull secrets never reach sandbox pulls).
    LocalRegistry locked =
        LocalRegistry.start(
            shared.resolve("registry"), Optional.of(new RegistryCredential("kaito", "s3cret")));
    Runtime.getRuntime().addShutdownHook(new Thread(locked::close));
    String pause = locked.host() + "/kaito/kaito-pause:it";
    // Jib sends credentials over plain HTTP only when told to (a loopback registry here).
    System.setProperty("sendCredentialsOverHttp", "true");
    Jib.from(RegistryImage.named(images.reference(Kind.PAUSE)))
        .containerize(
            Containerizer.to(RegistryImage.named(pause).addCredential("kaito", "s3cret"))
                .setAllowInsecureRegistries(true)
                .setBaseImageLayersCache(shared.resolve("jib"))
                .setApplicationLayersCache(shared.resolve("jib")));
    Path dockerConfig = shared.resolve("config.json");
    Files.writeString(
        dockerConfig,
        "{\"auths\": {\""
            + locked.host()
            + "\": {\"auth\": \""
            + Base64.getEncoder().encodeToString("kaito:s3cret".getBytes(StandardCharsets.UTF_8))
            + "\"}}}");
    Path log = Path.of("target", "real-node-provisioner-" + id + ".log").toAbsolutePath();
    Process provisioner =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                ProvisionerMain.class.getName(),
                "--provider=local-real",
                "--kubeconfig=" + cp.kubeconfig(),
                "--real-node-pause-image=" + pause,
                "--real-node-insecure-registries=" + images.registry.host() + "," + locked.host(),
                "--real-node-docker-config=" + dockerConfig,
                "--real-node-dir=" + stateDir,
                "--real-node-bridge=" + bridge,
                "--real-node-subnet=" + subnet,
                "--gc-interval-seconds=3600")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    try {
      client.resources(NodeClaim.class).resource(claim).create();
      client.resources(NodeClaim.class).resource(idle).create();
      await(
          "node " + nodeName + " Ready with its GPU (provisioner log " + log + ")",
          () -> readyWithGpu(client.nodes().withName(nodeName).get()),
          provisioner,
          log,
          stateDir.resolve(nodeName).resolve("kubelet.log"));
      Node node = client.nodes().withName(nodeName).get();
      assertThat(node.getMetadata().getLabels())
          .containsEntry("kaito.sh/workspace", ns)
          .containsEntry("apps", "real-node")
          .containsEntry(KarpenterConditions.INSTANCE_TYPE_LABEL, "Standard_NC6s_v3")
          .containsEntry("nvidia.com/gpu.count", "1")
          .containsEntry("kaito.sh/nodeclaim", claimName);
      assertThat(node.getSpec().getTaints())
          .anySatisfy(t -> assertThat(t.getKey() + "=" + t.getValue()).isEqualTo("sku=gpu"));
      assertThat(node.getSpec().getProviderID()).isEqualTo("kaito-local://" + nodeName);
      assertThat(node.getStatus().getAllocatable().get("nvidia.com/gpu"))
          .isEqualTo(new Quantity("1"));
      await(
          "claims " + claimName + " and " + idle.getMetadata().getName() + " Ready",
          () -> claimReady(client, claimName) && claimReady(client, idle.getMetadata().getName()),
          provisioner,
          log,
          stateDir.resolve(idleNode).resolve("kubelet.log"));

      Path weights = TinyModels.model(shared.resolve("weights"), 128, 5);
      Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxr-xr-x"));
      BuiltImages.worldReadable(weights);
      client.pods().inNamespace(ns).resource(runtimePod(images, weights, claimName)).create();
      client.services().inNamespace(ns).resource(service()).create();
      await(
          "runtime pod Ready on " + nodeName,
          () -> podReady(client.pods().inNamespace(ns).withName("runtime").get(), nodeName),
          provisioner,
          log,
          stateDir.resolve(nodeName).resolve("kubelet.log"));
      Pod pod = client.pods().inNamespace(ns).withName("runtime").get();
      assertThat(pod.getStatus().getPodIP()).startsWith(subnet.substring(0, subnet.length() - 4));
      String clusterIp =
          client.services().inNamespace(ns).withName("runtime").get().getSpec().getClusterIP();
      // kube-proxy writes the Service's rules within a sync after the endpoint turns ready: until
      // then the ClusterIP leads to the bridge and nothing answers, so the first calls may time
      // out.
      java.util.concurrent.atomic.AtomicReference<HttpResponse<String>> answer =
          new java.util.concurrent.atomic.AtomicReference<>();
      await(
          "an answer on the ClusterIP " + clusterIp,
          () -> {
            try {
              answer.set(BuiltImages.chat(http, "http://" + clusterIp));
              return true;
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              return false;
            } catch (Exception e) {
              return false; // connect timeout or refused: the rules are not there yet
            }
          },
          provisioner,
          log,
          log);
      HttpResponse<String> chat = answer.get();
      assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
      assertThat(chat.body()).contains("\"Result\"");
      // Another pod on the bridge calls the Service: kube-proxy's rewrite inside the host, the
      // answer back through it (the seed's `kubectl run curl ... http://$CLUSTERIP/chat`).
      client.pods().inNamespace(ns).resource(clientPod(images, clusterIp, nodeName)).create();
      java.util.concurrent.atomic.AtomicReference<io.fabric8.kubernetes.api.model.PodStatus>
          lastClient = new java.util.concurrent.atomic.AtomicReference<>();
      try {
        await(
            "client pod done",
            () -> {
              Pod c = client.pods().inNamespace(ns).withName("client").get();
              lastClient.set(c == null ? null : c.getStatus());
              return c != null
                  && c.getStatus() != null
                  && List.of("Succeeded", "Failed").contains(c.getStatus().getPhase());
            },
            provisioner,
            log,
            stateDir.resolve(nodeName).resolve("kubelet.log"));
      } catch (AssertionError e) {
        throw new AssertionError("client pod status, last seen: " + lastClient.get(), e);
      }
      String clientLog = client.pods().inNamespace(ns).withName("client").getLog();
      assertThat(client.pods().inNamespace(ns).withName("client").get().getStatus().getPhase())
          .as(clientLog)
          .isEqualTo("Succeeded");
      assertThat(clientLog).contains("status=200");

      // The container's log, through the API server and the kubelet.
      String podLog = client.pods().inNamespace(ns).withName("runtime").getLog();
      assertThat(podLog).contains("server listening").contains("request endpoint=/chat status=200");

      client.resources(NodeClaim.class).withName(claimName).delete();
      await(
          "claim and node gone",
          () ->
              client.resources(NodeClaim.class).withName(claimName).get() == null
                  && client.nodes().withName(nodeName).get() == null,
          provisioner,
          log,
          log);
      // The other node and the network stay.
      assertThat(Snapshot.take(stateDir).links()).contains(bridge);
      assertThat(readyWithGpu(client.nodes().withName(idleNode).get())).isTrue();

      // SIGTERM, as the quickstart stops it: the shutdown hook stops the idle node and the network.
      provisioner.destroy();
      assertThat(provisioner.waitFor(90, TimeUnit.SECONDS)).as("provisioner stopped").isTrue();
      awaitEqual(before, stateDir, log);
    } finally {
      provisioner.destroy();
      if (!provisioner.waitFor(90, TimeUnit.SECONDS)) {
        provisioner.destroyForcibly();
      }
      locked.close();
      DjlNatives.deleteTree(shared);
      // The idle claim's finalizer has nobody left to remove it.
      client
          .resources(NodeClaim.class)
          .withName(idle.getMetadata().getName())
          .edit(
              c -> {
                c.getMetadata().setFinalizers(List.of());
                return c;
              });
      client.resources(NodeClaim.class).withName(idle.getMetadata().getName()).delete();
      client.nodes().withName(idleNode).delete();
    }
  }

  /** The NodeClaim the Workspace controller writes for a one-GPU workspace (its own code). */
  private static NodeClaim claim(String workspace, String namespace) {
    Workspace ws =
        KaitoYaml.parseWorkspace(
            """
            apiVersion: kaito.sh/v1beta1
            kind: Workspace
            metadata: {name: %s, namespace: %s, uid: %s}
            resource:
              instanceType: Standard_NC6s_v3
              labelSelector: {matchLabels: {apps: real-node}}
            inference: {preset: {name: phi-3-mini-4k-instruct}}
            """
                .formatted(workspace, namespace, UUID.randomUUID()));
    return NodeClaims.desired(ws, 0, null, ControllerOptions.defaults());
  }

  /**
   * The runtime as Kaito's inference pods run it: asks for a GPU, tolerates the GPU taint, goes to
   * the claim's node by its labels.
   */
  private static Pod runtimePod(BuiltImages images, Path weights, String claimName) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("runtime")
        .addToLabels("app", "runtime")
        .endMetadata()
        .withNewSpec()
        .addToNodeSelector("kaito.sh/nodeclaim", claimName)
        .addNewToleration()
        .withKey("sku")
        .withOperator("Equal")
        .withValue("gpu")
        .withEffect("NoSchedule")
        .endToleration()
        .addNewContainer()
        .withName("runtime")
        .withImage(images.reference(Kind.RUNTIME))
        .withCommand(
            "kaito-runtime",
            "serve",
            "--preset",
            "tiny-preset",
            "--weights",
            "/workspace/weights",
            "--host",
            "0.0.0.0",
            "--port",
            "5000")
        .addNewPort()
        .withContainerPort(5000)
        .endPort()
        .withNewResources()
        .addToLimits("nvidia.com/gpu", new Quantity("1"))
        .endResources()
        .withNewReadinessProbe()
        .withNewHttpGet()
        .withPath("/health")
        .withNewPort(5000)
        .endHttpGet()
        .withPeriodSeconds(1)
        .endReadinessProbe()
        .addNewVolumeMount()
        .withName("weights")
        .withMountPath("/workspace/weights")
        .withReadOnly(true)
        .endVolumeMount()
        .endContainer()
        .addNewVolume()
        .withName("weights")
        .withNewHostPath()
        .withPath(weights.toString())
        .endHostPath()
        .endVolume()
        .endSpec()
        .build();
  }

  /**
   * The seed's curl pod (our kaito-curl image) on {@code node}, beside the runtime pod as in the
   * quickstart, asking the Service's ClusterIP for /health.
   */
  private static Pod clientPod(BuiltImages images, String clusterIp, String node) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("client")
        .endMetadata()
        .withNewSpec()
        .withNodeName(node)
        .withRestartPolicy("Never")
        .addNewToleration()
        .withKey("sku")
        .withOperator("Exists")
        .endToleration()
        .addNewContainer()
        .withName("client")
        .withImage(images.reference(Kind.CURL))
        .withArgs(
            "curl",
            "-sS",
            "--max-time",
            "30",
            "-o",
            "/dev/null",
            "-w",
            "status=%{http_code}\n",
            "http://" + clusterIp + "/health")
        .endContainer()
        .endSpec()
        .build();
  }

  private static Service service() {
    return new ServiceBuilder()
        .withNewMetadata()
        .withName("runtime")
        .endMetadata()
        .withNewSpec()
        .addToSelector("app", "runtime")
        .addNewPort()
        .withPort(80)
        .withNewTargetPort(5000)
        .endPort()
        .endSpec()
        .build();
  }

  private static boolean readyWithGpu(Node node) {
    return node != null
        && node.getStatus() != null
        && node.getStatus().getConditions().stream()
            .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"))
        && node.getStatus().getAllocatable() != null
        && new Quantity("1").equals(node.getStatus().getAllocatable().get("nvidia.com/gpu"));
  }

  private static boolean claimReady(KubernetesClient client, String name) {
    NodeClaim c = client.resources(NodeClaim.class).withName(name).get();
    return c != null
        && c.getStatus() != null
        && c.getStatus().getConditions().stream()
            .anyMatch(x -> x.getType().equals("Ready") && x.getStatus().equals("True"));
  }

  private static boolean podReady(Pod pod, String nodeName) {
    return pod != null
        && nodeName.equals(pod.getSpec().getNodeName())
        && pod.getStatus() != null
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }

  private static void await(
      String what, Supplier<Boolean> done, Process provisioner, Path log, Path detail)
      throws Exception {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (!provisioner.isAlive()) {
        throw new AssertionError(
            "provisioner exited while waiting for " + what + ":\n" + tail(log));
      }
      try {
        if (done.get()) {
          return;
        }
      } catch (RuntimeException e) {
        // the API server or the node is still on its way
      }
      Thread.sleep(250);
    }
    throw new AssertionError(
        "no " + what + " within " + READY_TIMEOUT + "\n" + tail(log) + "\n---\n" + tail(detail));
  }

  /**
   * Real nodes take the machine (iptables are machine-wide): while another provisioner holds its
   * lock (a quickstart on a shared machine), wait for it rather than fail.
   */
  private static void awaitMachineFree() throws Exception {
    Path lock = Path.of("/run/kaito-real-nodes.lock");
    long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
    while (System.nanoTime() < deadline) {
      if (!Files.exists(lock)) {
        return;
      }
      try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE)) {
        FileLock held = ch.tryLock();
        if (held != null) {
          held.release();
          return;
        }
      } catch (NoSuchFileException e) {
        return;
      }
      System.out.println("[RealNodeIT] another set of real nodes holds " + lock + "; waiting");
      Thread.sleep(5000);
    }
    throw new AssertionError("another set of real nodes held " + lock + " for 10 minutes");
  }

  private static void awaitEqual(Snapshot before, Path stateDir, Path log) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    Snapshot now = Snapshot.take(stateDir);
    while (!now.equals(before) && System.nanoTime() < deadline) {
      Thread.sleep(250);
      now = Snapshot.take(stateDir);
    }
    assertThat(now)
        .as("the machine after the nodes are gone; log:\n%s", tail(log))
        .isEqualTo(before);
  }

  private static String tail(Path file) {
    try {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (Exception e) {
      return "(no " + file + ")";
    }
  }

  /**
   * What a real node could leave behind: our processes (kubelet, kube-proxy, containerd started
   * with a config under the state folder, their shims), network devices, routes, iptables chains in
   * both families, mounts, network namespaces, and the state folder itself.
   */
  record Snapshot(
      List<String> processes,
      Set<String> links,
      Set<String> routes,
      Set<String> chains,
      Set<String> mounts,
      Set<String> pathsAndSysctls) {

    static Snapshot take(Path stateDir) throws Exception {
      List<String> processes = new ArrayList<>();
      String kubeBin = System.getenv().getOrDefault("KAITO_KUBE_BIN", "/nonexistent");
      ProcessHandle.allProcesses()
          .forEach(
              p -> {
                String cmd = p.info().command().orElse("");
                String args = String.join(" ", p.info().arguments().orElse(new String[0]));
                if (cmd.startsWith(kubeBin + "/kube") || args.contains(stateDir.toString())) {
                  processes.add(p.pid() + " " + cmd + " " + args);
                }
              });
      Set<String> chains = new TreeSet<>();
      for (String family : List.of("iptables", "ip6tables")) {
        String table = "";
        for (String line : run(family + "-save").lines().toList()) {
          if (line.startsWith("*")) {
            table = line.substring(1);
          } else if (line.startsWith(":") && line.split(" ")[1].equals("-")) {
            // A chain of someone's; built-in ones (policy ACCEPT) come with a table once used.
            chains.add(family + " " + table + " " + line.substring(1).split(" ")[0]);
          } else if (line.startsWith("-A ")) {
            chains.add(family + " " + table + " " + line);
          }
        }
      }
      Set<String> mounts = new TreeSet<>();
      for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
        mounts.add(line.split(" ")[1]);
      }
      Set<String> paths = new TreeSet<>();
      List<Path> candidates =
          new ArrayList<>(
              List.of(
                  stateDir,
                  Path.of("/var/lib/kubelet"),
                  Path.of("/var/log/containers"),
                  Path.of("/var/log/pods"),
                  Path.of("/run/containerd"),
                  Path.of("/run/kaito-real-nodes.lock"),
                  Path.of("/run/netns")));
      try (Stream<Path> hierarchies = Files.list(Path.of("/sys/fs/cgroup"))) {
        hierarchies.forEach(h -> candidates.add(h.resolve("k8s.io")));
      }
      for (Path p : candidates) {
        if (Files.exists(p)) {
          paths.add(p.toString());
        }
      }
      for (String key : SYSCTLS) {
        Path p = Path.of("/proc/sys", key);
        if (Files.isReadable(p)) {
          // One read: the kernel answers a read at a non-zero offset with end of file.
          try (var in = Files.newInputStream(p)) {
            byte[] buf = new byte[4096];
            int n = in.read(buf);
            paths.add(
                key + "=" + new String(buf, 0, Math.max(n, 0), StandardCharsets.US_ASCII).strip());
          }
        }
      }
      return new Snapshot(
          processes,
          names(run("ip", "-o", "link", "show")),
          new TreeSet<>(run("ip", "route", "show").lines().map(String::strip).toList()),
          chains,
          mounts,
          paths);
    }

    /** Kernel settings the kubelet, the bridge plugin or kube-proxy would change. */
    private static final List<String> SYSCTLS =
        List.of(
            "net/ipv4/ip_forward",
            "net/ipv4/conf/all/route_localnet",
            "vm/overcommit_memory",
            "vm/panic_on_oom",
            "kernel/panic",
            "kernel/panic_on_oops",
            "kernel/keys/root_maxkeys",
            "kernel/keys/root_maxbytes");

    private static Set<String> names(String ipLink) {
      Set<String> out = new TreeSet<>();
      for (String line : ipLink.lines().toList()) {
        String[] parts = line.split(": ");
        if (parts.length > 1) {
          out.add(parts[1].split("@")[0]);
        }
      }
      return out;
    }

    private static String run(String... command) throws Exception {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(30, TimeUnit.SECONDS);
      return out;
    }
  }
}
