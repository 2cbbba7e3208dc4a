package sh.kaito.api.v1beta1;

import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Labels Kaito puts on the objects it creates, the finalizer, and the label keys a user may not
 * claim in {@code resource.labelSelector} (upstream {@code api/v1beta1/labels.go}).
 */
public final class WorkspaceLabels {
  private WorkspaceLabels() {}

  public static final String PREFIX = "kaito.sh/";

  /** On NodeClaims, nodes, pods and Jobs: the owning workspace's name. */
  public static final String WORKSPACE_NAME = PREFIX + "workspace";

  /** On NodeClaims and nodes: the owning workspace's namespace. */
  public static final String WORKSPACE_NAMESPACE = PREFIX + "workspacenamespace";

  public static final String RAGENGINE_NAME = PREFIX + "ragengine";
  public static final String RAGENGINE_NAMESPACE = PREFIX + "ragenginenamespace";

  /** On ControllerRevisions: the workspace they belong to. */
  public static final String REVISION_WORKSPACE_NAME = "workspace.kaito.io/name";

  public static final String KARPENTER_WORKSPACE_NAME = "karpenter.kaito.sh/workspace-name";
  public static final String KARPENTER_WORKSPACE_NAMESPACE =
      "karpenter.kaito.sh/workspace-namespace";
  public static final String KARPENTER_INFERENCESET = "karpenter.kaito.sh/inferenceset";
  public static final String KARPENTER_INFERENCESET_NAMESPACE =
      "karpenter.kaito.sh/inferenceset-namespace";

  /** Node label Kaito adds to GPU nodes it checked (an AKS convention). */
  public static final String ACCELERATOR = "accelerator";

  public static final String ACCELERATOR_NVIDIA = "nvidia";

  /** The finalizer that makes deletion wait for cleanup. */
  public static final String FINALIZER = "workspace.finalizer.kaito.sh";

  /** Keys stripped from user selectors so a workspace cannot target another one's nodes. */
  public static final Set<String> RESERVED_SELECTOR_KEYS =
      Set.of(
          WORKSPACE_NAME,
          WORKSPACE_NAMESPACE,
          RAGENGINE_NAME,
          RAGENGINE_NAMESPACE,
          KARPENTER_WORKSPACE_NAME,
          KARPENTER_WORKSPACE_NAMESPACE,
          KARPENTER_INFERENCESET,
          KARPENTER_INFERENCESET_NAMESPACE);

  /** The selector's {@code matchLabels} without reserved keys, in their written order. */
  public static Map<String, String> sanitizedMatchLabels(LabelSelector selector) {
    Map<String, String> out = new LinkedHashMap<>();
    if (selector == null || selector.getMatchLabels() == null) {
      return out;
    }
    selector
        .getMatchLabels()
        .forEach(
            (key, value) -> {
              if (!RESERVED_SELECTOR_KEYS.contains(key)) {
                out.put(key, value);
              }
            });
    return out;
  }
}
