package sh.kaito.provisioner.azure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.provisioner.TestClaims;
import sh.kaito.provisioner.cloud.Instance;
import sh.kaito.provisioner.cloud.LaunchException;

/** Against {@link FakeAgentPoolsServer}, a local fake of the documented API — not Azure. */
class AzureAgentPoolCloudProviderTest {
  private static final String A100 = "Standard_NC24ads_A100_v4";

  private final FakeAgentPoolsServer arm;
  private final AtomicReference<Node> joined = new AtomicReference<>();
  private final AzureAgentPoolCloudProvider provider;

  AzureAgentPoolCloudProviderTest() throws Exception {
    arm = new FakeAgentPoolsServer();
    provider =
        new AzureAgentPoolCloudProvider(
            new AzureAgentPoolCloudProvider.Config(
                arm.endpoint(), "sub-1", "rg-1", "aks-1", "2024-09-01"),
            () -> "token",
            pool -> Optional.ofNullable(joined.get()));
  }

  @AfterEach
  void close() {
    arm.close();
  }

  private static NodeClaim claim(String name) {
    NodeClaim c = TestClaims.workspaceClaim(name, "phi", A100);
    c.getMetadata().setCreationTimestamp("2026-11-29T20:01:02Z");
    return c;
  }

  private static Node aksNode(String pool) {
    return new NodeBuilder()
        .withNewMetadata()
        .withName("aks-" + pool + "-12345678-vmss000000")
        .addToLabels("agentpool", pool)
        .addToLabels("kubernetes.azure.com/agentpool", pool)
        .endMetadata()
        .withNewSpec()
        .withProviderID(
            "azure:///subscriptions/sub-1/resourceGroups/mc_rg/providers/Microsoft.Compute/"
                + "virtualMachineScaleSets/aks-"
                + pool
                + "-12345678-vmss/virtualMachines/0")
        .endSpec()
        .withNewStatus()
        .addToCapacity("nvidia.com/gpu", new Quantity("1"))
        .addToAllocatable("nvidia.com/gpu", new Quantity("1"))
        .endStatus()
        .build();
  }

  @Test
  void theAgentPoolIsOneVmOfTheClaimsSizeWithItsLabelsTaintsAndDisk() throws Exception {
    NodeClaim c = claim("wsabc123");
    ObjectNode pool = AgentPools.agentPool(c);

    var p = pool.get("properties");
    assertThat(p.get("type").asText()).isEqualTo("VirtualMachineScaleSets");
    assertThat(p.get("vmSize").asText()).isEqualTo(A100);
    assertThat(p.get("count").asInt()).isEqualTo(1);
    assertThat(p.get("osType").asText()).isEqualTo("Linux");
    assertThat(p.get("osSKU").asText()).isEqualTo("Ubuntu");
    assertThat(p.get("osDiskSizeGB").asLong()).isEqualTo(300);
    assertThat(p.get("nodeTaints").get(0).asText()).isEqualTo("sku=gpu:NoSchedule");
    assertThat(p.get("nodeLabels").get("kaito.sh/workspace").asText()).isEqualTo("phi");
    assertThat(p.get("nodeLabels").get("karpenter.sh/nodepool").asText()).isEqualTo("kaito");
    assertThat(p.get("nodeLabels").get("kaito.sh/machine-type").asText()).isEqualTo("gpu");
    assertThat(p.get("nodeLabels").get("kaito.sh/creation-timestamp").asText())
        .isEqualTo("2026-11-29T20-01-02Z");

    c.getMetadata().setAnnotations(Map.of("kaito.sh/node-image-family", "azurelinux"));
    assertThat(AgentPools.agentPool(c).get("properties").get("osSKU").asText())
        .isEqualTo("AzureLinux");
  }

  @Test
  void claimsGpuProvisionerCannotServeAreRefusedWithItsMessages() {
    assertThatThrownBy(() -> AgentPools.agentPool(claim("Workspace-1")))
        .isInstanceOfSatisfying(
            LaunchException.class,
            e -> {
              assertThat(e.reason()).isEqualTo("InvalidAgentPoolName");
              assertThat(e.getMessage())
                  .isEqualTo(
                      "agentpool name(Workspace-1) is invalid, must match regex pattern:"
                          + " ^[a-z][a-z0-9]{0,11}$");
            });
    NodeClaim noDisk = claim("wsabc");
    noDisk.getSpec().getResources().getRequests().put("storage", new Quantity("512Mi"));
    assertThatThrownBy(() -> AgentPools.agentPool(noDisk))
        .isInstanceOfSatisfying(
            LaunchException.class, e -> assertThat(e.reason()).isEqualTo("InvalidStorageRequest"));
  }

  @Test
  void createSendsOnePutAndIsPendingUntilThePoolSucceededAndItsNodeJoined() throws Exception {
    NodeClaim c = claim("wsabc123");

    assertThatThrownBy(() -> provider.create(c))
        .isInstanceOfSatisfying(
            LaunchException.class,
            e -> {
              assertThat(e.pending()).isTrue();
              assertThat(e.reason()).isEqualTo("AgentPoolCreating");
            });
    assertThatThrownBy(() -> provider.create(c))
        .isInstanceOfSatisfying(LaunchException.class, e -> assertThat(e.pending()).isTrue());
    assertThat(arm.count("PUT ")).isEqualTo(1);
    assertThat(arm.requests.get(1))
        .isEqualTo(
            "PUT /subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.ContainerService/"
                + "managedClusters/aks-1/agentPools/wsabc123");

    arm.finishOperations();
    assertThatThrownBy(() -> provider.create(c))
        .isInstanceOfSatisfying(
            LaunchException.class, e -> assertThat(e.reason()).isEqualTo("NodeNotJoined"));

    joined.set(aksNode("wsabc123"));
    Instance i = provider.create(c);

    assertThat(i.providerID()).startsWith("azure:///subscriptions/sub-1/");
    assertThat(i.nodeName()).isEqualTo("aks-wsabc123-12345678-vmss000000");
    assertThat(i.instanceType()).isEqualTo(A100);
    assertThat(i.capacity().get("nvidia.com/gpu")).isEqualTo(new Quantity("1"));
    assertThat(arm.count("PUT ")).isEqualTo(1);
  }

  @Test
  void aSizeArmRefusesIsAPermanentLaunchFailureWithArmsCodeAndMessage() {
    arm.unavailableSizes.add(A100);

    assertThatThrownBy(() -> provider.create(claim("wsabc123")))
        .isInstanceOfSatisfying(
            LaunchException.class,
            e -> {
              assertThat(e.pending()).isFalse();
              assertThat(e.retryable()).isFalse();
              assertThat(e.reason()).isEqualTo("AgentPoolRefused");
              assertThat(e.getMessage()).startsWith("InvalidParameter: The VM size of " + A100);
            });
  }

  @Test
  void anArmOutageIsTransientNotALaunchFailure() {
    arm.forceStatus = 503;

    assertThatThrownBy(() -> provider.create(claim("wsabc123")))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("503");
  }

  @Test
  void deleteIsSentOnceAndTheInstanceShowsDeletingUntilItIsGone() throws Exception {
    NodeClaim c = claim("wsabc123");
    assertThatThrownBy(() -> provider.create(c)).isInstanceOf(LaunchException.class);
    arm.finishOperations();

    provider.delete(c);
    provider.delete(c);

    assertThat(arm.count("DELETE ")).isEqualTo(1);
    assertThat(provider.get(c)).hasValueSatisfying(i -> assertThat(i.deleting()).isTrue());
    arm.finishOperations();
    assertThat(provider.get(c)).isEmpty();
    provider.delete(c);
    assertThat(arm.count("DELETE ")).isEqualTo(1);
  }

  @Test
  void listReturnsOnlyKaitosPools() throws Exception {
    arm.addForeignPool("nodepool1");
    assertThatThrownBy(() -> provider.create(claim("wsone"))).isInstanceOf(LaunchException.class);
    assertThatThrownBy(() -> provider.create(claim("wstwo"))).isInstanceOf(LaunchException.class);

    assertThat(provider.list())
        .extracting(Instance::claimName)
        .containsExactlyInAnyOrder("wsone", "wstwo");
    assertThat(provider.list())
        .allSatisfy(
            i ->
                assertThat(i.createdAt())
                    .isEqualTo(java.time.Instant.parse("2026-11-29T20:01:02Z")));
  }
}
