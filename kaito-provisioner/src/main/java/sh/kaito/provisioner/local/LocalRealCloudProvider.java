package sh.kaito.provisioner.local;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.presets.sku.GpuSku;
import sh.kaito.presets.sku.SkuTable;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.FakeGpuNodes;
import sh.kaito.provisioner.cloud.Instance;
import sh.kaito.provisioner.cloud.LaunchException;

/**
 * Real nodes on this machine ({@code --provider=local-real}): each NodeClaim becomes a kubelet with
 * its own containerd and runc, pods get addresses on one bridge, and kube-proxy makes Service
 * ClusterIPs work (../shared/reference/real-node-recipe.md, docs/provisioner.md). The node gets the
 * claim's labels and GPU feature discovery's labels (patched once it registers), the claim's taints
 * (at registration) and the SKU's {@code nvidia.com/gpu} count as an extended resource in its
 * status (no device plugin; the runtime uses the CPU). Delete drains the node, stops both processes
 * and removes what they left; the last node also stops kube-proxy and puts the network and the
 * sysctls back ({@link HostNetwork}).
 *
 * <p>The processes are children of this JVM: {@link #close} (also run by a shutdown hook) stops
 * every node and the network. A restarted provisioner does not adopt nodes of an earlier one.
 */
public final class LocalRealCloudProvider implements CloudProvider, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LocalRealCloudProvider.class);

  public static final String PROVIDER_ID_PREFIX = "kaito-local://";

  private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(60);

  private final KubernetesClient client;
  private final SkuTable skus;
  private final RealNodeSettings settings;
  private final Map<String, RealNode> nodes = new ConcurrentHashMap<>();
  private final Map<String, Boolean> deleting = new ConcurrentHashMap<>();
  private final ExecutorService teardowns =
      Executors.newSingleThreadExecutor(daemon("real-node-teardown"));
  private final ScheduledExecutorService initializer =
      Executors.newSingleThreadScheduledExecutor(daemon("real-node-init"));
  private HostNetwork network;

  public LocalRealCloudProvider(KubernetesClient client, SkuTable skus, RealNodeSettings settings) {
    this.client = client;
    this.skus = skus;
    this.settings = settings;
    Runtime.getRuntime().addShutdownHook(new Thread(this::close, "real-nodes-stop"));
  }

  @Override
  public String name() {
    return "local-real";
  }

  /** {@code kaito-real-<claim>}. */
  public static String nodeName(String claimName) {
    String name = "kaito-real-" + claimName;
    return name.length() <= 63 ? name : name.substring(0, 63);
  }

  @Override
  public synchronized Instance create(NodeClaim claim) throws LaunchException {
    GpuSku sku = FakeGpuNodes.sku(claim, skus);
    String claimName = claim.getMetadata().getName();
    RealNode existing = nodes.get(claimName);
    if (existing != null) {
      return instance(existing, deleting.containsKey(claimName));
    }
    String nodeName = nodeName(claimName);
    Node other = client.nodes().withName(nodeName).get();
    if (other != null) {
      throw LaunchException.permanent(
          "NodeNameTaken",
          "node " + nodeName + " exists and was not made by this provisioner; delete it first");
    }
    if (network == null) {
      // Makes the state folder only once it holds the machine's lock.
      HostNetwork n = new HostNetwork(settings, serviceCidr());
      n.up(nodeName);
      network = n;
    }
    List<Taint> taints =
        claim.getSpec() == null || claim.getSpec().getTaints() == null
            ? List.of()
            : claim.getSpec().getTaints();
    RealNode node;
    try {
      node =
          RealNode.start(
              settings,
              network,
              claimName,
              nodeName,
              PROVIDER_ID_PREFIX + nodeName,
              sku.name(),
              sku.gpuCount(),
              taints,
              clientCa());
    } catch (IOException e) {
      if (nodes.isEmpty()) {
        network.down();
        network = null;
      }
      throw LaunchException.retryable("NodeStartFailed", "could not start node: " + e.getMessage());
    }
    nodes.put(claimName, node);
    Map<String, String> labels = FakeGpuNodes.gpuNodeLabels(claim, sku);
    String uid = claim.getMetadata().getUid();
    initializer.schedule(
        () -> initialize(node, labels, uid, sku.gpuCount()), 500, TimeUnit.MILLISECONDS);
    log.info(
        "event=RealNodeCreated nodeclaim={} node={} instanceType={} gpus={}",
        claimName,
        nodeName,
        sku.name(),
        sku.gpuCount());
    return instance(node, false);
  }

  /**
   * Once the kubelet registered the node: the claim's labels and an owner reference to the claim
   * (as Karpenter's registration), then the GPUs as an extended resource in the node's status. Runs
   * again every few seconds while the node lives, so a kubelet that rewrote its status (restart,
   * re-registration) gets the GPUs back.
   */
  private void initialize(RealNode node, Map<String, String> labels, String claimUid, int gpus) {
    if (nodes.get(node.claimName) != node || deleting.containsKey(node.claimName)) {
      return;
    }
    long nextInMs = 500;
    try {
      Node n = client.nodes().withName(node.nodeName).get();
      if (n != null) {
        nextInMs = 5000;
        Map<String, String> have = n.getMetadata().getLabels();
        if (have == null || !have.entrySet().containsAll(labels.entrySet())) {
          client
              .nodes()
              .withName(node.nodeName)
              .patch(PatchContext.of(PatchType.JSON_MERGE), metadataPatch(labels, node, claimUid));
          log.info("event=RealNodeLabelled node={} labels={}", node.nodeName, labels.size());
        }
        Quantity want = new Quantity(Integer.toString(gpus));
        Map<String, Quantity> capacity = n.getStatus() == null ? null : n.getStatus().getCapacity();
        Map<String, Quantity> allocatable =
            n.getStatus() == null ? null : n.getStatus().getAllocatable();
        if (capacity == null
            || !want.equals(capacity.get(KarpenterConditions.GPU_RESOURCE))
            || allocatable == null
            || !want.equals(allocatable.get(KarpenterConditions.GPU_RESOURCE))) {
          String gpu = "{\"" + KarpenterConditions.GPU_RESOURCE + "\":\"" + gpus + "\"}";
          client
              .nodes()
              .withName(node.nodeName)
              .subresource("status")
              .patch(
                  PatchContext.of(PatchType.JSON_MERGE),
                  "{\"status\":{\"capacity\":" + gpu + ",\"allocatable\":" + gpu + "}}");
          log.info("event=RealNodeGpusAdvertised node={} gpus={}", node.nodeName, gpus);
        }
      }
    } catch (KubernetesClientException e) {
      log.warn("event=RealNodeInitRetry node={} error=\"{}\"", node.nodeName, e.getMessage());
    } catch (RuntimeException e) {
      log.warn("event=RealNodeInitFailed node={} error=\"{}\"", node.nodeName, e.toString());
    }
    initializer.schedule(
        () -> initialize(node, labels, claimUid, gpus), nextInMs, TimeUnit.MILLISECONDS);
  }

  private static String metadataPatch(Map<String, String> labels, RealNode node, String uid) {
    Map<String, Object> metadata = new LinkedHashMap<>();
    metadata.put("labels", labels);
    if (uid != null) {
      metadata.put(
          "ownerReferences",
          List.of(
              Map.of(
                  "apiVersion",
                  NodeClaim.API_VERSION,
                  "kind",
                  "NodeClaim",
                  "name",
                  node.claimName,
                  "uid",
                  uid,
                  "blockOwnerDeletion",
                  true)));
    }
    try {
      return new ObjectMapper().writeValueAsString(Map.of("metadata", metadata));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public Optional<Instance> get(NodeClaim claim) {
    String claimName = claim.getMetadata().getName();
    RealNode node = nodes.get(claimName);
    if (node == null) {
      return Optional.empty();
    }
    return Optional.of(instance(node, deleting.containsKey(claimName)));
  }

  /**
   * Starts the teardown in the background (the controller polls {@link #get} until the machine is
   * gone): drain the node's pods, then {@link RealNode#stop}; after the last node the network.
   */
  @Override
  public void delete(NodeClaim claim) {
    String claimName = claim.getMetadata().getName();
    RealNode node = nodes.get(claimName);
    if (node == null || deleting.putIfAbsent(claimName, true) != null) {
      return;
    }
    log.info("event=RealNodeDeleting nodeclaim={} node={}", claimName, node.nodeName);
    teardowns.submit(
        () -> {
          try {
            drain(node.nodeName);
            node.stop();
            forgetPods(node.nodeName);
          } catch (RuntimeException e) {
            log.warn(
                "event=RealNodeTeardownFailed node={} error=\"{}\"", node.nodeName, e.toString());
            node.stop();
          } finally {
            synchronized (this) {
              // The network goes first: the claim is released (get() empty) only once the
              // machine looks as before.
              if (nodes.size() == 1 && network != null) {
                network.down();
                network = null;
              }
              nodes.remove(claimName);
              deleting.remove(claimName);
            }
            log.info("event=RealNodeDeleted nodeclaim={} node={}", claimName, node.nodeName);
          }
        });
  }

  /** Deletes the node's pods with their grace periods and waits while the kubelet stops them. */
  private void drain(String nodeName) {
    List<Pod> pods = podsOn(nodeName);
    for (Pod p : pods) {
      try {
        client.pods().inNamespace(p.getMetadata().getNamespace()).resource(p).delete();
      } catch (KubernetesClientException e) {
        log.debug("event=DrainDeleteFailed pod={} error=\"{}\"", p.getMetadata().getName(), e);
      }
    }
    long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
    while (!pods.isEmpty() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      pods = podsOn(nodeName);
    }
    log.info("event=RealNodeDrained node={} podsLeft={}", nodeName, pods.size());
  }

  /** Pod objects still bound to a node that is gone: nothing will ever confirm their deletion. */
  private void forgetPods(String nodeName) {
    for (Pod p : podsOn(nodeName)) {
      client
          .pods()
          .inNamespace(p.getMetadata().getNamespace())
          .withName(p.getMetadata().getName())
          .withGracePeriod(0)
          .delete();
    }
  }

  private List<Pod> podsOn(String nodeName) {
    try {
      return client.pods().inAnyNamespace().withField("spec.nodeName", nodeName).list().getItems();
    } catch (KubernetesClientException e) {
      return List.of();
    }
  }

  @Override
  public List<Instance> list() {
    List<Instance> out = new ArrayList<>();
    nodes.values().forEach(n -> out.add(instance(n, deleting.containsKey(n.claimName))));
    return out;
  }

  /** Stops every node and puts the machine back; for a JVM that ends or a test. */
  @Override
  public synchronized void close() {
    initializer.shutdownNow();
    for (RealNode node : nodes.values()) {
      node.stop();
    }
    nodes.clear();
    if (network != null) {
      network.down();
      network = null;
    }
  }

  /** The Service CIDR to route onto the bridge: the flag, else the API server's own. */
  private String serviceCidr() throws LaunchException {
    if (settings.serviceCidr().isPresent()) {
      return settings.serviceCidr().get();
    }
    try {
      GenericKubernetesResource cidr =
          client
              .genericKubernetesResources("networking.k8s.io/v1", "ServiceCIDR")
              .withName("kubernetes")
              .get();
      if (cidr != null && cidr.get("spec", "cidrs") instanceof List<?> list) {
        for (Object c : list) {
          if (c instanceof String s && s.contains(".")) {
            return s;
          }
        }
      }
    } catch (KubernetesClientException e) {
      log.debug("event=ServiceCidrLookupFailed error=\"{}\"", e.getMessage());
    }
    throw LaunchException.retryable(
        "ServiceCidrUnknown",
        "could not read the cluster's IPv4 Service CIDR (ServiceCIDR kubernetes); pass"
            + " --real-node-service-cidr");
  }

  /** The cluster CA from the kubeconfig: it signed the client certificate the API server shows. */
  private String clientCa() throws LaunchException {
    String data = client.getConfiguration().getCaCertData();
    if (data != null && !data.isBlank()) {
      return new String(Base64.getDecoder().decode(data.strip()));
    }
    String file = client.getConfiguration().getCaCertFile();
    if (file != null) {
      try {
        return Files.readString(Path.of(file));
      } catch (IOException e) {
        throw LaunchException.retryable("NodeStartFailed", "cannot read " + file);
      }
    }
    throw LaunchException.permanent(
        "NodeStartFailed", "the kubeconfig has no cluster CA for the kubelets to trust");
  }

  private static Instance instance(RealNode node, boolean isDeleting) {
    Map<String, Quantity> resources = new LinkedHashMap<>();
    resources.put(
        "cpu", new Quantity(Integer.toString(Runtime.getRuntime().availableProcessors())));
    resources.put("pods", new Quantity("110"));
    resources.put(KarpenterConditions.GPU_RESOURCE, new Quantity(Integer.toString(node.gpus)));
    return new Instance(
        node.claimName,
        node.providerID,
        node.nodeName,
        node.instanceType,
        resources,
        resources,
        node.createdAt,
        isDeleting);
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
