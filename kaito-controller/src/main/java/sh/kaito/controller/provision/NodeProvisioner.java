package sh.kaito.controller.provision;

import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import java.util.List;
import sh.kaito.api.v1beta1.Workspace;

/**
 * Where a workspace's GPU nodes come from (contract §2.2).
 *
 * <p>Every method is idempotent and non-blocking: it acts on what is missing and returns; callers
 * requeue. Implementations read from the controller's caches and never sleep.
 */
public interface NodeProvisioner {

  /** Asks for {@code target} nodes for the workspace (creating what is missing, nothing else). */
  void provision(Workspace workspace, int target, String storage);

  /** What is ready now, as the {@code NodeClaimReady} / {@code NodesReady} conditions. */
  NodeReadiness readiness(Workspace workspace, int target);

  /**
   * Releases the workspace's nodes. Returns how many are still going away; 0 means everything is
   * gone and the finalizer may be removed.
   */
  int release(Workspace workspace);

  /** Node requirements pods must add so they land on this workspace's nodes. */
  List<NodeSelectorRequirement> nodeSelector(Workspace workspace);
}
