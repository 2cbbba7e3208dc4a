package sh.kaito.controller.provision;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.List;
import java.util.Map;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;

/**
 * Read access to the objects the controller watches, served from informer caches (possibly a little
 * stale: every write the controller makes is idempotent against that).
 */
public interface ClusterView {
  Workspace workspace(String namespace, String name);

  List<Workspace> workspaces();

  /** NodeClaims labelled with the workspace's name and namespace. */
  List<NodeClaim> nodeClaims(Workspace workspace);

  Node node(String name);

  /** Nodes carrying all these labels. */
  List<Node> nodes(Map<String, String> labels);

  Job job(String namespace, String name);

  /** Metadata, {@code spec.replicas} and status only: no pod template (read the live one). */
  StatefulSet statefulSet(String namespace, String name);

  /** Metadata only (Services are created once and never updated). */
  Service service(String namespace, String name);

  /**
   * Pods labelled {@code kaito.sh/workspace=<name>} in the namespace: metadata, status and {@code
   * spec.nodeName} only.
   */
  List<Pod> pods(String namespace, String workspaceName);

  /** ControllerRevisions labelled {@code workspace.kaito.io/name=<name>}, without their data. */
  List<ControllerRevision> revisions(String namespace, String workspaceName);
}
