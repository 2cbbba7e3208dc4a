package sh.kaito.provisioner.lifecycle;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Quantity;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeClaimStatus;

/**
 * The NodeClaim status that follows from what was observed: the launch outcome and the Node. Pure;
 * conditions go through {@link Conditions} so {@code lastTransitionTime} moves only on a flip.
 *
 * <p>{@code Launched} (the provider made the machine), {@code Registered} (its Node exists), {@code
 * Initialized} (the Node is Ready and advertises the claim's GPUs) and the root {@code Ready},
 * which is True when all three are, else says what the first one that is not True says.
 */
final class LifecycleStatus {
  private LifecycleStatus() {}

  static NodeClaimStatus compute(NodeClaim claim, Launch launch, Node node, Clock clock) {
    NodeClaimStatus old = claim.getStatus() == null ? new NodeClaimStatus() : claim.getStatus();
    Long generation = claim.getMetadata().getGeneration();
    NodeClaimStatus next = new NodeClaimStatus();
    next.setImageID(old.getImageID());
    next.setLastPodEventTime(old.getLastPodEventTime());
    List<Condition> c = old.getConditions();

    if (launch instanceof Launch.Failed failed) {
      String launched = failed.pending() ? "Unknown" : "False";
      c =
          set(
              c,
              KarpenterConditions.LAUNCHED,
              launched,
              failed.reason(),
              failed.message(),
              claim,
              clock);
      String waiting =
          failed.pending() ? "waiting for the launch" : "the provider could not launch the node";
      c = set(c, KarpenterConditions.REGISTERED, "Unknown", "NotLaunched", waiting, claim, clock);
      c = set(c, KarpenterConditions.INITIALIZED, "Unknown", "NotLaunched", waiting, claim, clock);
    } else {
      var instance = ((Launch.Launched) launch).instance();
      next.setProviderID(instance.providerID());
      next.setNodeName(instance.nodeName());
      next.setCapacity(new LinkedHashMap<>(instance.capacity()));
      next.setAllocatable(new LinkedHashMap<>(instance.allocatable()));
      c = set(c, KarpenterConditions.LAUNCHED, "True", "Launched", "", claim, clock);
      if (node == null) {
        String msg = "waiting for node " + instance.nodeName() + " to register";
        c = set(c, KarpenterConditions.REGISTERED, "Unknown", "NodeNotFound", msg, claim, clock);
        c = set(c, KarpenterConditions.INITIALIZED, "Unknown", "NotRegistered", msg, claim, clock);
      } else {
        c = set(c, KarpenterConditions.REGISTERED, "True", "Registered", "", claim, clock);
        c = initialized(c, node, instance.capacity(), claim, clock);
      }
    }
    next.setConditions(ready(c, generation, clock));
    return next;
  }

  private static List<Condition> initialized(
      List<Condition> c, Node node, Map<String, Quantity> capacity, NodeClaim claim, Clock clock) {
    String name = node.getMetadata().getName();
    boolean nodeReady =
        node.getStatus() != null
            && node.getStatus().getConditions() != null
            && node.getStatus().getConditions().stream()
                .anyMatch(x -> "Ready".equals(x.getType()) && "True".equals(x.getStatus()));
    if (!nodeReady) {
      return set(
          c,
          KarpenterConditions.INITIALIZED,
          "Unknown",
          "NodeNotReady",
          "waiting for node " + name + " to be Ready",
          claim,
          clock);
    }
    long wanted = gpus(capacity);
    long advertised =
        node.getStatus().getAllocatable() == null ? 0 : gpus(node.getStatus().getAllocatable());
    if (advertised < wanted) {
      return set(
          c,
          KarpenterConditions.INITIALIZED,
          "Unknown",
          "GpuNotAdvertised",
          "node "
              + name
              + " advertises "
              + advertised
              + " of "
              + wanted
              + " "
              + KarpenterConditions.GPU_RESOURCE
              + "; waiting for the NVIDIA device plugin",
          claim,
          clock);
    }
    return set(c, KarpenterConditions.INITIALIZED, "True", "Initialized", "", claim, clock);
  }

  private static long gpus(Map<String, Quantity> resources) {
    Quantity q = resources.get(KarpenterConditions.GPU_RESOURCE);
    return q == null ? 0 : q.getNumericalAmount().longValue();
  }

  private static List<Condition> ready(List<Condition> c, Long generation, Clock clock) {
    for (String type : KarpenterConditions.LIFECYCLE) {
      Condition cond = Conditions.find(c, type).orElseThrow();
      if (!"True".equals(cond.getStatus())) {
        String status = "False".equals(cond.getStatus()) ? "False" : "Unknown";
        return Conditions.set(
            c,
            KarpenterConditions.READY,
            status,
            cond.getReason(),
            type + ": " + cond.getMessage(),
            generation,
            clock);
      }
    }
    return Conditions.set(c, KarpenterConditions.READY, "True", "Ready", "", generation, clock);
  }

  private static List<Condition> set(
      List<Condition> c,
      String type,
      String status,
      String reason,
      String message,
      NodeClaim claim,
      Clock clock) {
    return Conditions.set(
        c, type, status, reason, message, claim.getMetadata().getGeneration(), clock);
  }

  /** Whether writing {@code next} over {@code old} would change anything a reader can see. */
  static boolean same(NodeClaimStatus old, NodeClaimStatus next) {
    if (old == null) {
      return false;
    }
    return Objects.equals(old.getProviderID(), next.getProviderID())
        && Objects.equals(old.getNodeName(), next.getNodeName())
        && sameResources(old.getCapacity(), next.getCapacity())
        && sameResources(old.getAllocatable(), next.getAllocatable())
        && Conditions.sameMeaning(old.getConditions(), next.getConditions());
  }

  private static boolean sameResources(Map<String, Quantity> a, Map<String, Quantity> b) {
    Map<String, Quantity> left = a == null ? Map.of() : a;
    Map<String, Quantity> right = b == null ? Map.of() : b;
    if (!left.keySet().equals(right.keySet())) {
      return false;
    }
    for (var e : left.entrySet()) {
      Quantity r = right.get(e.getKey());
      if (e.getValue() == null
          || r == null
          || e.getValue().getNumericalAmount().compareTo(r.getNumericalAmount()) != 0) {
        return false;
      }
    }
    return true;
  }
}
