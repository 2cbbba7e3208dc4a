package sh.kaito.provisioner.lifecycle;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeClaimStatus;
import sh.kaito.provisioner.cloud.ClaimLabels;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.Instance;
import sh.kaito.provisioner.cloud.LaunchException;

/**
 * One NodeClaim, one pass (Karpenter's {@code nodeclaim/lifecycle} and {@code termination}):
 *
 * <ol>
 *   <li>deleting: delete the Node and the machine, wait until the machine is gone, drop the
 *       finalizer;
 *   <li>ensure the {@code karpenter.sh/termination} finalizer;
 *   <li>ensure launched: the machine recorded in the status, else {@link CloudProvider#create}
 *       (idempotent, so a restart never makes a second machine);
 *   <li>observe the Node and write the status computed by {@link LifecycleStatus}, only if it
 *       changed.
 * </ol>
 *
 * Nothing here sleeps: a step that must wait returns and is woken by the next NodeClaim or Node
 * event, or by a requeue.
 */
final class NodeClaimReconciler {
  private static final Logger log = LoggerFactory.getLogger(NodeClaimReconciler.class);

  static final String FINALIZER = "karpenter.sh/termination";

  static final String CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type";

  /** The lifecycle conditions whose flips are announced as Events, in order. */
  private static final List<String> ANNOUNCED =
      List.of(
          KarpenterConditions.LAUNCHED,
          KarpenterConditions.REGISTERED,
          KarpenterConditions.INITIALIZED,
          KarpenterConditions.READY);

  private final KubernetesClient client;
  private final CloudProvider provider;
  private final Function<String, NodeClaim> claims;
  private final Function<String, Node> nodes;
  private final Clock clock;
  private final Timings timings;
  private final ClaimEvents events;
  private final Runnable onError;

  /** Consecutive errors per claim, for the backoff; a pass without one forgets the claim. */
  private final Map<String, Integer> failures = new ConcurrentHashMap<>();

  /**
   * @param claims cached NodeClaim by name (null when absent)
   * @param nodes cached Node by name (null when absent)
   * @param onError called for each pass that failed with an exception (the errors meter)
   */
  NodeClaimReconciler(
      KubernetesClient client,
      CloudProvider provider,
      Function<String, NodeClaim> claims,
      Function<String, Node> nodes,
      Clock clock,
      Timings timings,
      ClaimEvents events,
      Runnable onError) {
    this.client = client;
    this.provider = provider;
    this.claims = claims;
    this.nodes = nodes;
    this.clock = clock;
    this.timings = timings;
    this.events = events;
    this.onError = onError;
  }

  /** The node class gpu-provisioner serves; claims for other classes belong to others. */
  static boolean served(NodeClaim claim) {
    var ref = claim.getSpec() == null ? null : claim.getSpec().getNodeClassRef();
    return ref != null && "kaito.sh".equals(ref.group()) && "KaitoNodeClass".equals(ref.kind());
  }

  /**
   * One pass. Errors (the API server, the cloud) and launches the provider says may succeed later
   * are retried with this claim's own exponential backoff; a pass without either resets it.
   */
  Result reconcile(String name) {
    Result r;
    try {
      r = pass(name);
    } catch (RuntimeException e) {
      onError.run();
      Duration delay = failed(name);
      log.warn(
          "event=ReconcileFailed nodeclaim={} retryIn={} error=\"{}\"", name, delay, e.toString());
      return Result.after(delay);
    }
    if (r != RETRY) {
      failures.remove(name);
      return r;
    }
    return Result.after(failed(name));
  }

  /** Marks a pass whose only outcome is "try again later, backing off". */
  private static final Result RETRY = Result.after(Duration.ZERO);

  private Duration failed(String name) {
    return timings.backoff(failures.merge(name, 1, Integer::sum));
  }

  private Result pass(String name) {
    NodeClaim claim = claims.apply(name);
    if (claim == null || !served(claim)) {
      return Result.DONE;
    }
    if (claim.getMetadata().getDeletionTimestamp() != null) {
      return terminate(claim);
    }
    if (!claim.getMetadata().getFinalizers().contains(FINALIZER)) {
      // The update event brings the claim back with the finalizer.
      setFinalizer(name, true);
      return Result.DONE;
    }
    Launch launch = launch(claim);
    Node node = null;
    if (launch instanceof Launch.Launched l) {
      node = nodes.apply(l.instance().nodeName());
      if (node == null && Conditions.isTrue(conditions(claim), KarpenterConditions.REGISTERED)) {
        return nodeGone(claim, l.instance().nodeName());
      }
    }
    NodeClaimStatus next = LifecycleStatus.compute(claim, launch, node, clock);
    writeStatus(claim, next);
    if (launch instanceof Launch.Launched) {
      ensureLabels(claim);
    }
    Optional<Duration> ttlLeft = registrationTimeLeft(claim, launch, node);
    if (ttlLeft.isPresent() && (ttlLeft.get().isNegative() || ttlLeft.get().isZero())) {
      return registrationExpired(claim);
    }
    if (launch instanceof Launch.Failed f && f.retryable()) {
      return f.pending() ? Result.after(shorter(timings.pollLaunch(), ttlLeft)) : RETRY;
    }
    return ttlLeft.map(Result::after).orElse(Result.DONE);
  }

  private static Duration shorter(Duration d, Optional<Duration> other) {
    return other.isPresent() && other.get().compareTo(d) < 0 ? other.get() : d;
  }

  /**
   * Karpenter's liveness rule: how long the claim's node has left to register, counted from when
   * the {@code Registered} condition was first written (it stays Unknown, so its transition time
   * does not move); empty when the rule does not apply: registered, not yet written, or a launch
   * refused for good (its {@code Launched=False} stays for the user to read).
   */
  private Optional<Duration> registrationTimeLeft(NodeClaim claim, Launch launch, Node node) {
    if (node != null || launch instanceof Launch.Failed f && !f.retryable()) {
      return Optional.empty();
    }
    return Conditions.find(conditions(claim), KarpenterConditions.REGISTERED)
        .filter(c -> !"True".equals(c.getStatus()) && c.getLastTransitionTime() != null)
        .map(
            c ->
                Duration.between(
                    clock.instant(),
                    Instant.parse(c.getLastTransitionTime()).plus(timings.registrationTtl())));
  }

  private Result registrationExpired(NodeClaim claim) {
    String name = claim.getMetadata().getName();
    log.warn(
        "event=RegistrationTimedOut nodeclaim={} ttl={} action=DeleteNodeClaim",
        name,
        timings.registrationTtl());
    events.warning(
        claim,
        "RegistrationTimedOut",
        "no node registered within "
            + timings.registrationTtl()
            + "; deleting the NodeClaim and its machine");
    client.resources(NodeClaim.class).withName(name).delete();
    return Result.DONE;
  }

  private Launch launch(NodeClaim claim) {
    NodeClaimStatus status = claim.getStatus();
    if (status != null && status.getProviderID() != null && status.getNodeName() != null) {
      return new Launch.Launched(
          new Instance(
              claim.getMetadata().getName(),
              status.getProviderID(),
              status.getNodeName(),
              null,
              status.getCapacity() == null ? Map.of() : status.getCapacity(),
              status.getAllocatable() == null ? Map.of() : status.getAllocatable(),
              clock.instant(),
              false));
    }
    try {
      Instance instance = provider.create(claim);
      log.info(
          "event=Launched nodeclaim={} provider={} providerID={} node={}",
          claim.getMetadata().getName(),
          provider.name(),
          instance.providerID(),
          instance.nodeName());
      return new Launch.Launched(instance);
    } catch (LaunchException e) {
      if (!e.pending()
          && !Conditions.find(conditions(claim), KarpenterConditions.LAUNCHED)
              .map(c -> e.reason().equals(c.getReason()))
              .orElse(false)) {
        log.warn(
            "event=LaunchFailed nodeclaim={} reason={} retryable={} message=\"{}\"",
            claim.getMetadata().getName(),
            e.reason(),
            e.retryable(),
            e.getMessage());
      }
      return new Launch.Failed(e.reason(), e.getMessage(), e.retryable(), e.pending());
    }
  }

  private static List<io.fabric8.kubernetes.api.model.Condition> conditions(NodeClaim claim) {
    return claim.getStatus() == null ? List.of() : claim.getStatus().getConditions();
  }

  private void writeStatus(NodeClaim claim, NodeClaimStatus next) {
    if (LifecycleStatus.same(claim.getStatus(), next)) {
      return;
    }
    NodeClaim copy = new NodeClaim();
    copy.setMetadata(claim.getMetadata());
    copy.setSpec(claim.getSpec());
    copy.setStatus(next);
    // Optimistic concurrency: resourceVersion from the cache; a conflict means a newer event is
    // on its way and will bring us back.
    try {
      client.resources(NodeClaim.class).resource(copy).updateStatus();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        // Our cache was behind; the event for the newer version brings the claim back.
        log.debug("event=StatusConflict nodeclaim={}", claim.getMetadata().getName());
        return;
      }
      throw e;
    }
    announce(claim, next);
    log.info(
        "event=StatusUpdated nodeclaim={} node={} ready={} reason={}",
        claim.getMetadata().getName(),
        next.getNodeName(),
        Conditions.statusOf(next.getConditions(), KarpenterConditions.READY),
        Conditions.find(next.getConditions(), KarpenterConditions.READY)
            .map(c -> c.getReason())
            .orElse(""));
  }

  /** One Event per lifecycle condition whose status the write changed (Unknown is not news). */
  private void announce(NodeClaim claim, NodeClaimStatus next) {
    for (String type : ANNOUNCED) {
      var now = Conditions.find(next.getConditions(), type);
      if (now.isEmpty() || "Unknown".equals(now.get().getStatus())) {
        continue;
      }
      String before = Conditions.statusOf(conditions(claim), type);
      if (now.get().getStatus().equals(before)) {
        continue;
      }
      if ("True".equals(now.get().getStatus())) {
        events.normal(claim, type, now.get().getMessage());
      } else {
        events.warning(claim, now.get().getReason(), type + ": " + now.get().getMessage());
      }
    }
  }

  /**
   * As Karpenter after a launch: the claim carries the labels its node got from it (one value of
   * each {@code In} requirement, e.g. the instance type that {@code kubectl get nodeclaim} shows in
   * its TYPE column) and the capacity type. Only missing labels are added; none is changed.
   */
  private void ensureLabels(NodeClaim claim) {
    Map<String, String> want = new LinkedHashMap<>(ClaimLabels.of(claim));
    want.putIfAbsent(CAPACITY_TYPE_LABEL, "on-demand");
    Map<String, String> have = claim.getMetadata().getLabels();
    if (have != null && have.entrySet().containsAll(want.entrySet())) {
      return;
    }
    try {
      client
          .resources(NodeClaim.class)
          .withName(claim.getMetadata().getName())
          .edit(
              c -> {
                Map<String, String> labels = new LinkedHashMap<>(want);
                if (c.getMetadata().getLabels() != null) {
                  labels.putAll(c.getMetadata().getLabels());
                }
                c.getMetadata().setLabels(labels);
                return c;
              });
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }

  /**
   * As Karpenter: a registered claim whose Node was deleted (by a user, by node repair) is deleted
   * too, and the Workspace controller asks for a new one. The Node cache is complete before the
   * workers start and Registered is only written after the Node was seen, so an absent Node here
   * was deleted.
   */
  private Result nodeGone(NodeClaim claim, String nodeName) {
    log.info(
        "event=NodeGone nodeclaim={} node={} action=DeleteNodeClaim",
        claim.getMetadata().getName(),
        nodeName);
    events.warning(claim, "NodeGone", "node " + nodeName + " was deleted; deleting the NodeClaim");
    client.resources(NodeClaim.class).withName(claim.getMetadata().getName()).delete();
    return Result.DONE;
  }

  /**
   * Adds or removes our finalizer, reading the claim fresh (the cache may be behind); a claim that
   * is already gone is fine. Returns whether it changed anything.
   */
  private boolean setFinalizer(String name, boolean present) {
    NodeClaim current = client.resources(NodeClaim.class).withName(name).get();
    if (current == null || current.getMetadata().getFinalizers().contains(FINALIZER) == present) {
      return false;
    }
    try {
      client
          .resources(NodeClaim.class)
          .withName(name)
          .edit(
              c -> {
                List<String> finalizers = new ArrayList<>(c.getMetadata().getFinalizers());
                finalizers.remove(FINALIZER);
                if (present) {
                  finalizers.add(FINALIZER);
                }
                c.getMetadata().setFinalizers(finalizers);
                return c;
              });
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
      return false;
    }
  }

  private Result terminate(NodeClaim claim) {
    String name = claim.getMetadata().getName();
    if (!claim.getMetadata().getFinalizers().contains(FINALIZER)) {
      return Result.DONE;
    }
    String nodeName = claim.getStatus() == null ? null : claim.getStatus().getNodeName();
    Node node = nodeName == null ? null : nodes.apply(nodeName);
    if (node != null && node.getMetadata().getDeletionTimestamp() == null) {
      client.nodes().withName(nodeName).delete();
      log.info("event=NodeDeleted nodeclaim={} node={}", name, nodeName);
    }
    Optional<Instance> instance = provider.get(claim);
    if (instance.isPresent()) {
      if (!instance.get().deleting()) {
        provider.delete(claim);
        log.info("event=Terminating nodeclaim={} node={}", name, instance.get().nodeName());
        events.normal(claim, "Terminating", "deleting the machine of this NodeClaim");
      }
      return Result.after(timings.pollDelete());
    }
    if (setFinalizer(name, false)) {
      log.info("event=Terminated nodeclaim={}", name);
      events.normal(claim, "Terminated", "the machine is gone");
    }
    return Result.DONE;
  }
}
