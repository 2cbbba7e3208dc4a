package sh.kaito.controller.provision;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.v1beta1.WorkspaceConditions.Reasons;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.status.Verdict;

/** Readiness checks on one node. */
public final class Nodes {
  private Nodes() {}

  public static boolean isReady(Node node) {
    if (node == null || node.getStatus() == null || node.getStatus().getConditions() == null) {
      return false;
    }
    if (node.getMetadata().getDeletionTimestamp() != null) {
      return false;
    }
    return node.getStatus().getConditions().stream()
        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** The GPUs the device plugin advertises ({@code status.capacity["nvidia.com/gpu"]}). */
  public static int gpus(Node node) {
    if (node == null || node.getStatus() == null || node.getStatus().getCapacity() == null) {
      return 0;
    }
    Quantity q = node.getStatus().getCapacity().get(KarpenterConditions.GPU_RESOURCE);
    if (q == null) {
      return 0;
    }
    try {
      return Quantity.getAmountInBytes(q).intValue();
    } catch (ArithmeticException | IllegalArgumentException e) {
      return 0;
    }
  }

  /**
   * True when a Ready node lacks {@code accelerator=nvidia}, the AKS GPU-node label upstream's
   * controller puts on the nodes of its NodeClaims (contract §2.2, third gate).
   */
  public static boolean needsAcceleratorLabel(Node node) {
    Map<String, String> labels = node.getMetadata().getLabels();
    return isReady(node)
        && !WorkspaceLabels.ACCELERATOR_NVIDIA.equals(
            labels == null ? null : labels.get(WorkspaceLabels.ACCELERATOR));
  }

  public static String instanceType(Node node) {
    return node.getMetadata().getLabels() == null
        ? null
        : node.getMetadata().getLabels().get(KarpenterConditions.INSTANCE_TYPE_LABEL);
  }

  /** The {@code NodesReady} outcome over candidate nodes, and the names of the usable ones. */
  public record Gate(Verdict verdict, List<String> workers) {}

  /**
   * Counts the candidates that are Ready, of {@code instanceType} (when not null) and advertise
   * GPUs; fewer than {@code target} is {@code NodeNotReady}, or {@code NodePluginsNotReady} when a
   * node lacks only its GPUs (the device plugin has not come up).
   */
  public static Gate gate(
      List<Node> candidates, String instanceType, int target, String notEnough) {
    List<String> workers = new ArrayList<>();
    boolean missingGpus = false;
    for (Node node : candidates) {
      if (!isReady(node)) {
        continue;
      }
      if (instanceType != null && !instanceType.equals(instanceType(node))) {
        continue;
      }
      if (gpus(node) <= 0) {
        missingGpus = true;
        continue;
      }
      workers.add(node.getMetadata().getName());
    }
    workers.sort(String::compareTo);
    Verdict verdict =
        workers.size() >= target
            ? Verdict.ok(Reasons.NODES_READY, "Enough Nodes are ready")
            : missingGpus
                ? Verdict.notOk(
                    Reasons.NODE_PLUGINS_NOT_READY, "waiting all node plugins to be ready")
                : Verdict.notOk(Reasons.NODE_NOT_READY, notEnough);
    return new Gate(verdict, workers);
  }
}
