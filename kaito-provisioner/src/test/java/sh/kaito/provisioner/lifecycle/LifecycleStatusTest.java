package sh.kaito.provisioner.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeConditionBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeClaimStatus;
import sh.kaito.presets.sku.SkuTable;
import sh.kaito.provisioner.TestClaims;
import sh.kaito.provisioner.cloud.FakeGpuNodes;
import sh.kaito.provisioner.cloud.Instance;

class LifecycleStatusTest {
  private static final Clock T0 =
      Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);
  private static final Clock T1 =
      Clock.fixed(Instant.parse("2026-01-01T00:05:00Z"), ZoneOffset.UTC);

  private final NodeClaim claim =
      TestClaims.workspaceClaim("wsabc", "phi", "Standard_NC24ads_A100_v4");

  private Node node() throws Exception {
    return FakeGpuNodes.node(claim, FakeGpuNodes.sku(claim, SkuTable.azure()));
  }

  private Launch launched() throws Exception {
    return new Launch.Launched(FakeGpuNodes.instance(node()));
  }

  private static Node ready(Node node, boolean ready) {
    node.getStatus()
        .setConditions(
            List.of(
                new NodeConditionBuilder()
                    .withType("Ready")
                    .withStatus(ready ? "True" : "False")
                    .build()));
    return node;
  }

  private static Condition condition(NodeClaimStatus s, String type) {
    return Conditions.find(s.getConditions(), type).orElseThrow();
  }

  @Test
  void aRefusedLaunchIsLaunchedFalseWithTheProvidersReasonAndReadyFalse() {
    NodeClaimStatus s =
        LifecycleStatus.compute(
            claim,
            new Launch.Failed("InstanceTypeUnknown", "use another SKU", false, false),
            null,
            T0);

    assertThat(condition(s, "Launched").getStatus()).isEqualTo("False");
    assertThat(condition(s, "Launched").getReason()).isEqualTo("InstanceTypeUnknown");
    assertThat(condition(s, "Launched").getMessage()).isEqualTo("use another SKU");
    assertThat(condition(s, "Ready").getStatus()).isEqualTo("False");
    assertThat(condition(s, "Ready").getReason()).isEqualTo("InstanceTypeUnknown");
    assertThat(s.getProviderID()).isNull();
  }

  @Test
  void aLaunchStillInProgressIsLaunchedUnknownNotFalse() {
    NodeClaimStatus s =
        LifecycleStatus.compute(
            claim, new Launch.Failed("AgentPoolCreating", "Creating", true, true), null, T0);

    assertThat(condition(s, "Launched").getStatus()).isEqualTo("Unknown");
    assertThat(condition(s, "Launched").getReason()).isEqualTo("AgentPoolCreating");
    assertThat(condition(s, "Ready").getStatus()).isEqualTo("Unknown");
  }

  @Test
  void launchedWithoutANodeWaitsForRegistration() throws Exception {
    NodeClaimStatus s = LifecycleStatus.compute(claim, launched(), null, T0);

    assertThat(s.getProviderID()).isEqualTo("kaito-fake://kaito-fake-wsabc");
    assertThat(s.getNodeName()).isEqualTo("kaito-fake-wsabc");
    assertThat(s.getCapacity().get("nvidia.com/gpu")).isEqualTo(new Quantity("1"));
    assertThat(condition(s, "Launched").getStatus()).isEqualTo("True");
    assertThat(condition(s, "Registered").getStatus()).isEqualTo("Unknown");
    assertThat(condition(s, "Ready").getStatus()).isEqualTo("Unknown");
    assertThat(condition(s, "Ready").getReason()).isEqualTo("NodeNotFound");
  }

  @Test
  void aNodeThatIsNotReadyIsRegisteredButNotInitialized() throws Exception {
    NodeClaimStatus s = LifecycleStatus.compute(claim, launched(), ready(node(), false), T0);

    assertThat(condition(s, "Registered").getStatus()).isEqualTo("True");
    assertThat(condition(s, "Initialized").getReason()).isEqualTo("NodeNotReady");
    assertThat(condition(s, "Ready").getStatus()).isEqualTo("Unknown");
  }

  @Test
  void aReadyNodeWithoutItsGpusIsNotInitialized() throws Exception {
    Node node = ready(node(), true);
    node.getStatus().setAllocatable(Map.of("cpu", new Quantity("24")));

    NodeClaimStatus s = LifecycleStatus.compute(claim, launched(), node, T0);

    assertThat(condition(s, "Initialized").getStatus()).isEqualTo("Unknown");
    assertThat(condition(s, "Initialized").getReason()).isEqualTo("GpuNotAdvertised");
    assertThat(condition(s, "Initialized").getMessage()).contains("0 of 1 nvidia.com/gpu");
  }

  @Test
  void aReadyNodeWithItsGpusMakesTheClaimReadyAndAnUnchangedStatusIsNotRewritten()
      throws Exception {
    NodeClaimStatus first = LifecycleStatus.compute(claim, launched(), ready(node(), true), T0);
    assertThat(first.getConditions())
        .extracting(Condition::getType, Condition::getStatus)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple("Launched", "True"),
            org.assertj.core.groups.Tuple.tuple("Registered", "True"),
            org.assertj.core.groups.Tuple.tuple("Initialized", "True"),
            org.assertj.core.groups.Tuple.tuple("Ready", "True"));

    claim.setStatus(first);
    NodeClaimStatus again = LifecycleStatus.compute(claim, launched(), ready(node(), true), T1);

    assertThat(LifecycleStatus.same(first, again)).isTrue();
    assertThat(condition(again, "Ready").getLastTransitionTime()).isEqualTo("2026-01-01T00:00:00Z");
  }

  @Test
  void aNodeGoingNotReadyFlipsReadyAndMovesItsTransitionTime() throws Exception {
    claim.setStatus(LifecycleStatus.compute(claim, launched(), ready(node(), true), T0));

    NodeClaimStatus s = LifecycleStatus.compute(claim, launched(), ready(node(), false), T1);

    assertThat(LifecycleStatus.same(claim.getStatus(), s)).isFalse();
    assertThat(condition(s, "Ready").getStatus()).isEqualTo("Unknown");
    assertThat(condition(s, "Ready").getLastTransitionTime()).isEqualTo("2026-01-01T00:05:00Z");
    assertThat(condition(s, "Launched").getLastTransitionTime()).isEqualTo("2026-01-01T00:00:00Z");
  }

  @Test
  void instanceCapacityIsCopiedAsIs() {
    Instance i =
        new Instance(
            "wsabc",
            "kaito-fake://n",
            "n",
            "Standard_NC48ads_A100_v4",
            Map.of("nvidia.com/gpu", new Quantity("2")),
            Map.of("nvidia.com/gpu", new Quantity("2")),
            Instant.EPOCH,
            false);
    NodeClaimStatus s = LifecycleStatus.compute(claim, new Launch.Launched(i), null, T0);
    assertThat(s.getAllocatable().get("nvidia.com/gpu")).isEqualTo(new Quantity("2"));
  }
}
