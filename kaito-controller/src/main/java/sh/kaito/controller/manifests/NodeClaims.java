package sh.kaito.controller.manifests;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeClaimSpec;
import sh.kaito.api.karpenter.NodeClassReference;
import sh.kaito.api.karpenter.NodeSelectorRequirementWithMinValues;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceAnnotations;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.ControllerOptions;

/** The NodeClaims a workspace asks for, in upstream's shape (contract §2.2). */
public final class NodeClaims {
  private NodeClaims() {}

  /** Used when the preset is unknown (upstream's fallback). */
  public static final String DEFAULT_STORAGE = "1024Gi";

  /**
   * The name of the workspace's {@code index}-th NodeClaim: {@code "ws"} + 9 hex digits of
   * sha256(namespace/name/uid/index), 11 characters like upstream (AKS agent-pool names).
   *
   * <p>Unlike upstream (which hashes the current time), the name is deterministic, so a second
   * create of the same claim — a restarted controller, a stale cache — is refused by the API server
   * with AlreadyExists instead of making a duplicate node.
   */
  public static String name(Workspace workspace, int index) {
    String seed =
        workspace.getMetadata().getNamespace()
            + "/"
            + workspace.getMetadata().getName()
            + "/"
            + workspace.getMetadata().getUid()
            + "/"
            + index;
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(seed.getBytes(StandardCharsets.UTF_8));
      return "ws" + HexFormat.of().formatHex(digest).substring(0, 9);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is always available", e);
    }
  }

  /** Ownership labels: how NodeClaims and their nodes are found again. */
  public static Map<String, String> ownershipLabels(Workspace workspace) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(WorkspaceLabels.WORKSPACE_NAME, workspace.getMetadata().getName());
    labels.put(WorkspaceLabels.WORKSPACE_NAMESPACE, workspace.getMetadata().getNamespace());
    return labels;
  }

  /**
   * The workspace's {@code index}-th NodeClaim.
   *
   * @param storage the preset's disk requirement as a quantity, or null for {@link
   *     #DEFAULT_STORAGE}
   */
  public static NodeClaim desired(
      Workspace workspace, int index, String storage, ControllerOptions options) {
    String instanceType = workspace.getResource().instanceType();
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(KarpenterConditions.NODEPOOL_LABEL, KarpenterConditions.KAITO_NODEPOOL);
    labels.putAll(ownershipLabels(workspace));
    WorkspaceLabels.sanitizedMatchLabels(workspace.getResource().labelSelector())
        .forEach(labels::putIfAbsent);

    Map<String, String> annotations = new LinkedHashMap<>();
    annotations.put(KarpenterConditions.DO_NOT_DISRUPT, "true");
    String family =
        workspace
            .annotations()
            .getOrDefault(WorkspaceAnnotations.NODE_IMAGE_FAMILY, options.nodeImageFamily());
    annotations.put(WorkspaceAnnotations.NODE_IMAGE_FAMILY, family);

    NodeClaim claim = new NodeClaim();
    claim.setMetadata(
        new ObjectMetaBuilder()
            .withName(name(workspace, index))
            .withLabels(labels)
            .withAnnotations(annotations)
            .build());
    NodeClaimSpec spec = new NodeClaimSpec();
    spec.setNodeClassRef(new NodeClassReference("kaito.sh", "KaitoNodeClass", "default"));
    spec.setTaints(
        List.of(
            new TaintBuilder().withKey("sku").withValue("gpu").withEffect("NoSchedule").build()));
    spec.setRequirements(
        List.of(
            NodeSelectorRequirementWithMinValues.in(
                KarpenterConditions.NODEPOOL_LABEL, KarpenterConditions.KAITO_NODEPOOL),
            NodeSelectorRequirementWithMinValues.in(
                KarpenterConditions.INSTANCE_TYPE_LABEL, instanceType),
            NodeSelectorRequirementWithMinValues.in(KarpenterConditions.OS_LABEL, "linux"),
            NodeSelectorRequirementWithMinValues.in(
                KarpenterConditions.AZURE_SKU_NAME_LABEL, instanceType)));
    spec.getResources()
        .getRequests()
        .put("storage", new Quantity(storage == null ? DEFAULT_STORAGE : storage));
    claim.setSpec(spec);
    return claim;
  }
}
