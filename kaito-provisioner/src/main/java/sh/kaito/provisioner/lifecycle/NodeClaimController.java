package sh.kaito.provisioner.lifecycle;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.operator.ControllerLoop;
import sh.kaito.operator.EventHandlers;
import sh.kaito.operator.Health;
import sh.kaito.operator.LeanStore;
import sh.kaito.operator.OperatorProcess;
import sh.kaito.operator.WorkQueue;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.FakeGpuNodes;
import sh.kaito.provisioner.cloud.Instance;

/**
 * Informers (NodeClaims, Nodes) → work queue keyed by claim name → workers ({@link ControllerLoop})
 * running {@link NodeClaimReconciler}, plus the instance garbage collector (gpu-provisioner's
 * {@code instance/garbagecollection}: a machine whose claim is gone, older than a grace period, is
 * deleted). Closing it stops everything it started.
 */
public final class NodeClaimController implements OperatorProcess.Controller {
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
  private final ControllerLoop loop;
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
    this(client, provider, options, clock, new SimpleMeterRegistry());
  }

  public NodeClaimController(
      KubernetesClient client,
      CloudProvider provider,
      Options options,
      Clock clock,
      MeterRegistry metrics) {
    // The claims and nodes as the reconciler reads them (LeanStore: no managedFields).
    this.claims =
        LeanStore.lean(
            client.resources(NodeClaim.class).runnableInformer(0),
            LeanStore.withoutManagedFields());
    this.nodes =
        LeanStore.lean(
            client.nodes().runnableInformer(0),
            LeanStore.trimming(n -> LeanStore.dropLastApplied(n)));
    this.provider = provider;
    this.options = options;
    this.clock = clock;
    claims.addEventHandler(EventHandlers.enqueue(c -> c.getMetadata().getName(), queue::add));
    nodes.addEventHandler(EventHandlers.enqueue(NodeClaimController::claimOf, queue::add));
    this.events = new ClaimEvents(client);
    this.reconciler =
        new NodeClaimReconciler(
            client,
            provider,
            this::claim,
            this::node,
            clock,
            options.timings(),
            events,
            // The loop's errors meter (same name and tags: the same counter), since the loop
            // never sees the reconciler's exceptions.
            Counter.builder("kaito.reconcile.errors")
                    .description("Reconciles that failed unexpectedly")
                    .tag("controller", "nodeclaim")
                    .register(metrics)
                ::increment);
    // One backoff: the reconciler's per-claim one (Timings), since it also covers launches the
    // cloud says to retry, which are no exception. The reconciler lets no RuntimeException out,
    // so the loop's own error backoff (given the same numbers) only ever sees what escapes it.
    this.loop =
        new ControllerLoop(
            new ControllerLoop.Options(
                "nodeclaim",
                options.workers(),
                Duration.ofMillis(100),
                options.timings().backoffBase(),
                options.timings().backoffMax()),
            queue,
            key -> {
              Result r = reconciler.reconcile(key);
              reconciled.accept(key);
              return r.requeue() ? Optional.of(r.requeueAfter()) : Optional.empty();
            },
            metrics);
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

  NodeClaim claim(String name) {
    return claims.getStore().getByKey(name);
  }

  Node node(String name) {
    return nodes.getStore().getByKey(name);
  }

  @Override
  public void start() throws Exception {
    start(120);
  }

  /** Starts the informers, waits for their first list, then the workers and the collector. */
  public void start(long timeoutSeconds) throws Exception {
    running = true;
    claims.start();
    nodes.start();
    claims.start().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
    nodes.start().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
    loop.start();
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

  @Override
  public boolean ready() {
    return running && claims.hasSynced() && nodes.hasSynced();
  }

  /** Liveness: every worker alive and both informers watching (nothing before start). */
  @Override
  public List<String> problems() {
    List<String> problems = new ArrayList<>(loop.problems());
    problems.addAll(Health.informers(Map.of("nodeclaims", claims, "nodes", nodes)).problems());
    return problems;
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
    loop.close();
    gc.shutdownNow();
    claims.close();
    nodes.close();
    events.close();
    log.info("event=ProvisionerStopped");
  }
}
