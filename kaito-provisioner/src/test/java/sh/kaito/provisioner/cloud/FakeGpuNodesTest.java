package sh.kaito.provisioner.cloud;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import org.junit.jupiter.api.Test;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeSelectorRequirementWithMinValues;
import sh.kaito.presets.sku.GpuSku;
import sh.kaito.presets.sku.SkuTable;
import sh.kaito.provisioner.TestClaims;

class FakeGpuNodesTest {
  private static final SkuTable SKUS = SkuTable.azure();

  private static Node nodeFor(NodeClaim claim) throws LaunchException {
    return FakeGpuNodes.node(claim, FakeGpuNodes.sku(claim, SKUS));
  }

  @Test
  void anA100ClaimBecomesAKwokNodeWithOneA100() throws Exception {
    NodeClaim claim = TestClaims.workspaceClaim("wsabc", "phi", "Standard_NC24ads_A100_v4");
    claim.getMetadata().setUid("uid-1");

    Node node = nodeFor(claim);

    assertThat(node.getMetadata().getName()).isEqualTo("kaito-fake-wsabc");
    assertThat(node.getMetadata().getAnnotations()).containsEntry("kwok.x-k8s.io/node", "fake");
    assertThat(node.getSpec().getProviderID()).isEqualTo("kaito-fake://kaito-fake-wsabc");
    assertThat(node.getMetadata().getLabels())
        .containsEntry("node.kubernetes.io/instance-type", "Standard_NC24ads_A100_v4")
        .containsEntry("karpenter.sh/nodepool", "kaito")
        .containsEntry("kaito.sh/workspace", "phi")
        .containsEntry("kaito.sh/workspacenamespace", "default")
        .containsEntry("kubernetes.io/os", "linux")
        .containsEntry("karpenter.azure.com/sku-name", "Standard_NC24ads_A100_v4")
        .containsEntry("accelerator", "nvidia")
        .containsEntry("nvidia.com/gpu.product", "NVIDIA-A100")
        .containsEntry("nvidia.com/gpu.count", "1")
        .containsEntry("nvidia.com/gpu.memory", "81920")
        .containsEntry("kaito.sh/nodeclaim", "wsabc");
    assertThat(node.getStatus().getCapacity().get("nvidia.com/gpu")).isEqualTo(new Quantity("1"));
    assertThat(node.getStatus().getAllocatable().get("nvidia.com/gpu"))
        .isEqualTo(new Quantity("1"));
    assertThat(node.getStatus().getCapacity().get("cpu")).isEqualTo(new Quantity("24"));
    assertThat(node.getStatus().getCapacity().get("ephemeral-storage"))
        .isEqualTo(new Quantity("300Gi"));
    assertThat(node.getSpec().getTaints())
        .extracting(Taint::getKey, Taint::getValue, Taint::getEffect)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("sku", "gpu", "NoSchedule"));
    assertThat(node.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.getKind()).isEqualTo("NodeClaim");
              assertThat(o.getUid()).isEqualTo("uid-1");
            });
  }

  @Test
  void gpuCountAndMemoryFollowTheSkuTableForEveryAzureSku() throws Exception {
    for (GpuSku sku : SKUS.all()) {
      Node node = nodeFor(TestClaims.workspaceClaim("wsx", "w", sku.name()));
      assertThat(node.getStatus().getCapacity().get("nvidia.com/gpu").getAmount())
          .as(sku.name())
          .isEqualTo(Integer.toString(sku.gpuCount()));
      assertThat(node.getMetadata().getLabels().get("nvidia.com/gpu.memory"))
          .as(sku.name())
          .isEqualTo(Long.toString(sku.perGpuMemory().bytes() / (1024 * 1024)));
      assertThat(node.getMetadata().getLabels().get("nvidia.com/gpu.product"))
          .as(sku.name())
          .matches("[A-Za-z0-9][A-Za-z0-9_.-]*");
    }
  }

  @Test
  void aClaimLabelWinsOverARequirementAndOnlyInRequirementsBecomeLabels() throws Exception {
    NodeClaim claim =
        TestClaims.workspaceClaim(
            "wsabc",
            "phi",
            "Standard_NC24ads_A100_v4",
            c -> {
              c.getMetadata().getLabels().put("kubernetes.io/os", "mine");
              c.getSpec()
                  .getRequirements()
                  .add(
                      new NodeSelectorRequirementWithMinValues(
                          "example.com/zone", "NotIn", java.util.List.of("a")));
              c.getSpec()
                  .getRequirements()
                  .add(NodeSelectorRequirementWithMinValues.in("example.com/team", "ml", "x"));
            });

    var labels = ClaimLabels.of(claim);

    assertThat(labels)
        .containsEntry("kubernetes.io/os", "mine")
        .containsEntry("example.com/team", "ml")
        .doesNotContainKey("example.com/zone");
  }

  @Test
  void anUnknownInstanceTypeFailsWithAReasonAndAnExample() {
    NodeClaim claim = TestClaims.workspaceClaim("wsabc", "phi", "Standard_Nope_v9");

    assertThatThrownBy(() -> FakeGpuNodes.sku(claim, SKUS))
        .isInstanceOfSatisfying(
            LaunchException.class,
            e -> {
              assertThat(e.reason()).isEqualTo("InstanceTypeUnknown");
              assertThat(e.retryable()).isFalse();
              assertThat(e.getMessage()).contains("Standard_Nope_v9").contains(SKUS.names().get(0));
            });
  }

  @Test
  void aClaimWithoutAnInstanceTypeFails() {
    NodeClaim claim =
        TestClaims.workspaceClaim(
            "wsabc",
            "phi",
            "Standard_NC24ads_A100_v4",
            c ->
                c.getSpec()
                    .getRequirements()
                    .removeIf(r -> r.getKey().equals(KarpenterConditions.INSTANCE_TYPE_LABEL)));

    assertThatThrownBy(() -> FakeGpuNodes.sku(claim, SKUS))
        .isInstanceOfSatisfying(
            LaunchException.class, e -> assertThat(e.reason()).isEqualTo("InstanceTypeMissing"));
  }

  @Test
  void onlyNodesWithOurLabelAndProviderIdAreInstances() throws Exception {
    Node ours = nodeFor(TestClaims.workspaceClaim("wsabc", "phi", "Standard_NC24ads_A100_v4"));
    assertThat(FakeGpuNodes.instance(ours))
        .satisfies(
            i -> {
              assertThat(i.claimName()).isEqualTo("wsabc");
              assertThat(i.nodeName()).isEqualTo("kaito-fake-wsabc");
              assertThat(i.capacity().get("nvidia.com/gpu")).isEqualTo(new Quantity("1"));
            });
    ours.getSpec().setProviderID("azure:///subscriptions/x");
    assertThat(FakeGpuNodes.instance(ours)).isNull();
  }
}
