package sh.kaito.controller.provision;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.util.List;
import org.junit.jupiter.api.Test;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeClaimStatus;
import sh.kaito.controller.status.Verdict;

class NodeClaimProvisionerTest {
  static NodeClaim claim(String name, String type, String status, String reason, String message) {
    NodeClaim c = new NodeClaim();
    c.setMetadata(new ObjectMetaBuilder().withName(name).build());
    NodeClaimStatus s = new NodeClaimStatus();
    s.setConditions(
        List.of(
            new ConditionBuilder()
                .withType(type)
                .withStatus(status)
                .withReason(reason)
                .withMessage(message)
                .build()));
    c.setStatus(s);
    return c;
  }

  @Test
  void realLaunchErrorsWinOverWaiting() {
    var waiting =
        claim(
            "ws1",
            "Launched",
            "Unknown",
            "AwaitingReconciliation",
            "object is awaiting reconciliation");
    var failed =
        claim(
            "ws2",
            "Launched",
            "False",
            "LaunchFailed",
            "all requested instance types were unavailable during launch");
    Verdict v = NodeClaimProvisioner.firstLifecycleFailure(List.of(waiting, failed)).orElseThrow();
    assertThat(v.reason()).isEqualTo("LaunchFailed");
    assertThat(v.message())
        .isEqualTo(
            "NodeClaim ws2 is not Launched: all requested instance types were unavailable during launch");
    assertThat(NodeClaimProvisioner.firstLifecycleFailure(List.of(waiting)).orElseThrow().reason())
        .isEqualTo("AwaitingReconciliation");
  }

  static io.fabric8.kubernetes.api.model.Node node(boolean ready, String accelerator) {
    var b =
        new io.fabric8.kubernetes.api.model.NodeBuilder()
            .withNewMetadata()
            .withName("n")
            .addToLabels("node.kubernetes.io/instance-type", "Standard_NC24ads_A100_v4")
            .endMetadata()
            .withNewStatus()
            .addNewCondition()
            .withType("Ready")
            .withStatus(ready ? "True" : "False")
            .endCondition()
            .endStatus();
    if (accelerator != null) {
      b.editMetadata().addToLabels("accelerator", accelerator).endMetadata();
    }
    return b.build();
  }

  @Test
  void acceleratorLabelIsAddedOnlyToReadyNodesThatLackIt() {
    assertThat(Nodes.needsAcceleratorLabel(node(true, null))).isTrue();
    assertThat(Nodes.needsAcceleratorLabel(node(true, "amd"))).isTrue();
    assertThat(Nodes.needsAcceleratorLabel(node(true, "nvidia"))).isFalse();
    assertThat(Nodes.needsAcceleratorLabel(node(false, null))).isFalse();
  }

  @Test
  void readyNeedsTheReadyCondition() {
    assertThat(NodeClaimProvisioner.isReady(claim("a", "Ready", "True", "Ready", ""))).isTrue();
    assertThat(NodeClaimProvisioner.isReady(claim("a", "Ready", "False", "NotReady", "")))
        .isFalse();
  }

  static io.fabric8.kubernetes.api.model.Node existing(String name, String type, String... labels) {
    var b =
        new io.fabric8.kubernetes.api.model.NodeBuilder()
            .withNewMetadata()
            .withName(name)
            .addToLabels("apps", "phi-3")
            .addToLabels("node.kubernetes.io/instance-type", type)
            .endMetadata()
            .withNewStatus()
            .addNewCondition()
            .withType("Ready")
            .withStatus("True")
            .endCondition()
            .endStatus();
    for (int i = 0; i + 1 < labels.length; i += 2) {
      b.editMetadata().addToLabels(labels[i], labels[i + 1]).endMetadata();
    }
    return b.build();
  }

  private static sh.kaito.api.v1beta1.Workspace workspace(List<String> preferred) {
    return sh.kaito.controller.TestWorkspaces.phi3Inference(
        w -> {
          var r = w.getResource();
          w.setResource(
              new sh.kaito.api.v1beta1.ResourceSpec(
                  r.count(), r.instanceType(), r.labelSelector(), preferred, r.partition()));
          return w;
        });
  }

  @Test
  void existingNodesArePreferredOnesFirstThenOnesOfTheInstanceTypeNeverClaimedOrTakenOnes() {
    var ws = workspace(List.of("byo-b"));
    String type = ws.getResource().instanceType();
    var nodes =
        List.of(
            existing("byo-a", type),
            existing("byo-b", "Standard_ND96asr_v4"), // preferred: any size
            existing("byo-c", "Standard_D4s_v5"), // neither preferred nor the size
            existing("claimed", type, "karpenter.sh/nodepool", "kaito"),
            existing("other-ws", type, "kaito.sh/workspace", "someone-else"));

    assertThat(NodeClaimProvisioner.selectExisting(nodes, ws, 5))
        .extracting(n -> n.getMetadata().getName())
        .containsExactly("byo-b", "byo-a");
    assertThat(NodeClaimProvisioner.selectExisting(nodes, ws, 1))
        .extracting(n -> n.getMetadata().getName())
        .containsExactly("byo-b");
    assertThat(NodeClaimProvisioner.selectExisting(List.of(node(false, null)), ws, 1)).isEmpty();
  }
}
