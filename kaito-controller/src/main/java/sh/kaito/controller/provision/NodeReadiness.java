package sh.kaito.controller.provision;

import java.util.List;
import sh.kaito.controller.status.Verdict;

/**
 * What a {@link NodeProvisioner} observed about a workspace's nodes.
 *
 * @param nodeClaimReady the {@code NodeClaimReady} condition, or null when the provisioner has no
 *     NodeClaims (bring-your-own nodes)
 * @param nodesReady the {@code NodesReady} condition
 * @param workerNodes sorted names of the ready nodes
 * @param pollAgain true when readiness can change without an event the controller watches, so the
 *     reconciler should look again after a delay
 */
public record NodeReadiness(
    Verdict nodeClaimReady, Verdict nodesReady, List<String> workerNodes, boolean pollAgain) {

  public NodeReadiness {
    workerNodes = workerNodes == null ? List.of() : List.copyOf(workerNodes);
  }

  public boolean ready() {
    return (nodeClaimReady == null || nodeClaimReady.ok()) && nodesReady.ok();
  }
}
