package sh.kaito.provisioner;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeClaimSpec;
import sh.kaito.api.karpenter.NodeClassReference;
import sh.kaito.api.karpenter.NodeSelectorRequirementWithMinValues;

/** NodeClaims shaped as Kaito's Workspace controller makes them (contract §2.2). */
public final class TestClaims {
  private TestClaims() {}

  /** {@code ws} + 9 hex digits, like upstream's names. */
  public static String uniqueName() {
    return "ws" + UUID.randomUUID().toString().replace("-", "").substring(0, 9);
  }

  public static NodeClaim workspaceClaim(String name, String workspace, String instanceType) {
    return workspaceClaim(name, workspace, instanceType, c -> {});
  }

  public static NodeClaim workspaceClaim(
      String name, String workspace, String instanceType, Consumer<NodeClaim> change) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(KarpenterConditions.NODEPOOL_LABEL, KarpenterConditions.KAITO_NODEPOOL);
    labels.put("kaito.sh/workspace", workspace);
    labels.put("kaito.sh/workspacenamespace", "default");
    NodeClaim claim = new NodeClaim();
    claim.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withLabels(labels)
            .withAnnotations(Map.of(KarpenterConditions.DO_NOT_DISRUPT, "true"))
            .build());
    NodeClaimSpec spec = new NodeClaimSpec();
    spec.setNodeClassRef(new NodeClassReference("kaito.sh", "KaitoNodeClass", "default"));
    spec.setTaints(
        List.of(
            new TaintBuilder().withKey("sku").withValue("gpu").withEffect("NoSchedule").build()));
    spec.setRequirements(
        new ArrayList<>(
            List.of(
                NodeSelectorRequirementWithMinValues.in(
                    KarpenterConditions.NODEPOOL_LABEL, KarpenterConditions.KAITO_NODEPOOL),
                NodeSelectorRequirementWithMinValues.in(
                    KarpenterConditions.INSTANCE_TYPE_LABEL, instanceType),
                NodeSelectorRequirementWithMinValues.in(KarpenterConditions.OS_LABEL, "linux"),
                NodeSelectorRequirementWithMinValues.in(
                    KarpenterConditions.AZURE_SKU_NAME_LABEL, instanceType))));
    spec.getResources().getRequests().put("storage", new Quantity("300Gi"));
    claim.setSpec(spec);
    change.accept(claim);
    return claim;
  }
}
