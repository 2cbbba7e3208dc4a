package sh.kaito.provisioner.lifecycle;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.operator.WorkQueue;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.FakeGpuNodes;
import sh.kaito.provisioner.cloud.Instance;

/**
 * Informers (NodeClaims, Nodes) → work queue keyed by claim name → workers running {@link
 * NodeClaimReconciler}, plus the instance garbage collector (gpu-provisioner's {@code
 * instance/garbagecollection}: a machine whose claim is gone, older than a grace period, is
 * deleted). Closing it stops everything it started.
 */
public final class NodeClaimController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NodeClaimController.class);

  /**
   * @param workers reconcile threads
   * @param gcInterval how often to look for machines without a claim (upstream: 2 min)
   * @param gcGrace machines younger than this are left alone (upstream: 30 s), since their claim
   *     may not have reached the cache yet
   */
  public record Options(int workers, Duration gcInterval, Duration gcGrace, Timings timings) {
    public Options(int workers, Duration gcInterval, Duration gcGrace) {
      this(workers, gcInterval, gcGrace, Timings.defaults());
    }

    public static Options defaults() {
      return new Options(2, Duration.ofMinutes(2), Duration.ofSeconds(30));
    }
  }

  private final CloudProvider provider;
  private final Options options;
  private final Clock clock;
  private final SharedIndexInformer<NodeClaim> claims;
  private final SharedIndexInformer<Node> nodes;
  private final WorkQueue queue = new WorkQueue();
  private final NodeClaimReconciler reconciler;
  private final ClaimEvents events;
  private final List<Thread> workers = new ArrayList<>();
  private final ScheduledExecutorService gc =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "provisioner-gc");
            t.setDaemon(true);
            return t;
          });
  private volatile boolean running;
  private volatile Consumer<String> reconciled = name -> {};

  public NodeClaimController(
      KubernetesClient client, CloudProvider provider, Options options, Clock clock) {
    this.provider = provider;
    this.options = options;
    this.clock = clock;
    this.claims = client.resources(NodeClaim.class).runnableInformer(0);
    this.nodes = client.nodes().runnableInformer(0);
    claims.addEventHandler(handler(c -> c.getMetadata().getName()));
    nodes.addEventHandler(handler(NodeClaimController::claimOf));
    this.events = new ClaimEvents(client);
    this.reconciler =
        new NodeClaimReconciler(
            client, provider, this::claim, this::node, clock, options.timings(), events);
  }

  /**
   * The claim a node belongs to: our label, else a NodeClaim owner reference, else its AKS agent
   * pool; null if none.
   */
  static String claimOf(Node node) {
    Map<String, String> labels = node.getMetadata().getLabels();
    if (labels != null && labels.containsKey(FakeGpuNodes.CLAIM_LABEL)) {
      return labels.get(FakeGpuNodes.CLAIM_LABEL);
    }
    for (OwnerReference o : node.getMetadata().getOwnerReferences()) {
      if ("NodeClaim".equals(o.getKind())) {
        return o.getName();
      }
    }
    // AKS: the agent pool is named after the claim. Other pools' names match no claim: harmless.
    return labels == null ? null : labels.get("kubernetes.azure.com/agentpool");
  }

  private <T extends HasMetadata> ResourceEventHandler<T> handler(
      java.util.function.Function<T, String> key) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        emit(obj);
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        emit(newObj);
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        emit(obj);
      }

      private void emit(T obj) {
        String k = key.apply(obj);
        if (k != null && !k.isEmpty()) {
          queue.add(k);
        }
      }
    };
  }

  NodeClaim claim(String name) {
    return claims.getStore().getByKey(name);
  }

  Node node(String name) {
    return nodes.getStore().getByKey(name);
  }

  /** Starts the informers, waits for their first list, then the workers and the collector. */
  public void start(long timeoutSeconds) throws Exception {
    running = true;
    claims.start();
    nodes.start();
    claims.start().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
    nodes.start().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
    for (int i = 0; i < options.workers(); i++) {
      Thread t = new Thread(this::work, "provisioner-worker-" + i);
      t.setDaemon(true);
      t.start();
      workers.add(t);
    }
    long gcMillis = options.gcInterval().toMillis();
    gc.scheduleWithFixedDelay(this::collectGarbage, gcMillis, gcMillis, TimeUnit.MILLISECONDS);
    log.info(
        "event=ProvisionerStarted provider={} workers={} gcInterval={}",
        provider.name(),
        options.workers(),
        options.gcInterval());
  }

  /**
   * Calls {@code listener} with a claim's name each time a reconcile of it has finished without
   * error: lets a test wait for proof that the controller looked at a claim (instead of for a time)
   * before it asserts that nothing changed.
   */
  public void onReconciled(Consumer<String> listener) {
    this.reconciled = listener;
  }

  public boolean ready() {
    return running && claims.hasSynced() && nodes.hasSynced();
  }

  private void work() {
    while (running) {
      String key;
      try {
        key = queue.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (key == null) {
        return;
      }
      try {
        Result r = reconciler.reconcile(key);
        if (r.requeue()) {
          queue.addAfter(key, r.requeueAfter());
        }
        reconciled.accept(key);
      } catch (RuntimeException e) {
        // A conflict or an API hiccup: the next event or this retry brings the claim back.
        log.warn("event=ReconcileFailed nodeclaim={} error=\"{}\"", key, e.toString());
        queue.addAfter(key, Duration.ofSeconds(2));
      } finally {
        queue.done(key);
      }
    }
  }

  /** Deletes machines whose claim is gone; public for tests that cannot wait for the timer. */
  public int collectGarbage() {
    int deleted = 0;
    try {
      for (Instance i : provider.list()) {
        if (i.deleting()
            || claim(i.claimName()) != null
            || i.createdAt().plus(options.gcGrace()).isAfter(clock.instant())) {
          continue;
        }
        NodeClaim gone = new NodeClaim();
        gone.setMetadata(new ObjectMetaBuilder().withName(i.claimName()).build());
        provider.delete(gone);
        deleted++;
        log.info(
            "event=GarbageCollected nodeclaim={} node={} providerID={}",
            i.claimName(),
            i.nodeName(),
            i.providerID());
      }
    } catch (RuntimeException e) {
      log.warn("event=GarbageCollectionFailed error=\"{}\"", e.toString());
    }
    return deleted;
  }

  @Override
  public void close() {
    running = false;
    queue.close();
    gc.shutdownNow();
    for (Thread t : workers) {
      t.interrupt();
    }
    claims.close();
    nodes.close();
    events.close();
    log.info("event=ProvisionerStopped");
  }
}
