package sh.kaito.controller.provision;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import java.util.List;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceLabels;

/**
 * Bring-your-own nodes: nothing is created or deleted; the workspace is ready when enough Ready
 * nodes with GPUs match its {@code labelSelector}.
 */
public final class ByoNodeProvisioner implements NodeProvisioner {
  private final ClusterView view;

  public ByoNodeProvisioner(ClusterView view) {
    this.view = view;
  }

  @Override
  public void provision(Workspace workspace, int target, String storage) {}

  @Override
  public NodeReadiness readiness(Workspace workspace, int target) {
    var labels =
        WorkspaceLabels.sanitizedMatchLabels(
            workspace.getResource() == null ? null : workspace.getResource().labelSelector());
    List<Node> candidates = labels.isEmpty() ? List.of() : view.nodes(labels);
    Nodes.Gate gate =
        Nodes.gate(
            candidates,
            null,
            target,
            "Not enough Nodes are ready: fewer than "
                + target
                + " Ready GPU nodes match the labelSelector");
    return new NodeReadiness(null, gate.verdict(), gate.workers(), false);
  }

  @Override
  public int release(Workspace workspace) {
    return 0;
  }

  @Override
  public List<NodeSelectorRequirement> nodeSelector(Workspace workspace) {
    return List.of();
  }
}
