package sh.kaito.provisioner.azure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.azure.resourcemanager.containerservice.fluent.models.AgentPoolInner;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.provisioner.TestClaims;
import sh.kaito.provisioner.cloud.Instance;
import sh.kaito.provisioner.cloud.LaunchException;

/**
 * The provider through the real Azure SDK against {@link FakeArm} and {@link FakeEntraId}, local
 * HTTPS fakes of the documented APIs on 127.0.0.1 — not Azure.
 */
class AzureAgentPoolCloudProviderTest {
  private static final String A100 = "Standard_NC24ads_A100_v4";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static TestCa ca;

  private final AtomicReference<Node> joined = new AtomicReference<>();
  private FakeAzure azure;
  private FakeArm arm;
  private FakeEntraId entra;
  private AzureAgentPoolCloudProvider provider;

  @BeforeAll
  static void authority() throws Exception {
    ca = new TestCa();
  }

  @TempDir Path dir;

  private AzureAgentPoolCloudProvider provider() throws IOException {
    azure = new FakeAzure(ca, dir);
    arm = azure.arm;
    entra = azure.entra;
    return new AzureAgentPoolCloudProvider(
        azure.pools(), "rg-1", "aks-1", pool -> Optional.ofNullable(joined.get()));
  }

  @AfterEach
  void close() throws Exception {
    if (azure == null) {
      return; // a pure test
    }
    azure.close();
    azure.assertOnlyLoopbackWasDialled();
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

  private static LaunchException launchFailure(ThrowingCall call) {
    try {
      call.run();
    } catch (LaunchException e) {
      return e;
    } catch (Exception e) {
      throw new AssertionError("expected a LaunchException, got " + e, e);
    }
    throw new AssertionError("expected a LaunchException, the call succeeded");
  }

  interface ThrowingCall {
    void run() throws Exception;
  }

  private long count(String method, String pathPart) {
    return arm.requests().stream()
        .filter(r -> r.method().equals(method) && r.path().contains(pathPart))
        .count();
  }

  @Test
  void createPutsTheGoldenBodyAndFollowsTheAsyncOperationToSuccess() throws Exception {
    provider = provider();
    NodeClaim c = claim("wsabc123");

    assertThat(launchFailure(() -> provider.create(c)).reason()).isEqualTo("AgentPoolCreating");
    LaunchException stillCreating = launchFailure(() -> provider.create(c));
    assertThat(stillCreating.pending()).isTrue();
    assertThat(stillCreating.getMessage()).contains("IN_PROGRESS");
    assertThat(launchFailure(() -> provider.create(c)).reason()).isEqualTo("NodeNotJoined");
    joined.set(aksNode("wsabc123"));
    Instance i = provider.create(c);

    assertThat(i.providerID()).startsWith("azure:///subscriptions/sub-1/");
    assertThat(i.nodeName()).isEqualTo("aks-wsabc123-12345678-vmss000000");
    assertThat(i.instanceType()).isEqualTo(A100);
    assertThat(i.capacity().get("nvidia.com/gpu")).isEqualTo(new Quantity("1"));
    var puts = arm.requests().stream().filter(r -> r.method().equals("PUT")).toList();
    assertThat(puts).hasSize(1);
    assertThat(puts.get(0).path())
        .isEqualTo(
            "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.ContainerService/"
                + "managedClusters/aks-1/agentPools/wsabc123");
    assertThat(JSON.readTree(puts.get(0).body()))
        .isEqualTo(JSON.readTree(getClass().getResourceAsStream("/golden/agentpool-put.json")));
    assertThat(count("GET", "/operations/op-1")).isEqualTo(2);
    // The token came from workload identity: the projected token was exchanged at Entra ID.
    assertThat(entra.requests()).isNotEmpty();
    var exchange = FakeEntraId.form(entra.requests().get(0).body());
    assertThat(exchange).containsEntry("client_assertion", FakeAzure.SA_TOKEN);
    assertThat(exchange.get("scope")).contains("https://management.core.windows.net//.default");
    assertThat(arm.requests())
        .allSatisfy(
            r ->
                assertThat(r.header("Authorization"))
                    .isEqualTo("Bearer arm-token-issued-by-the-fake"));
  }

  @Test
  void aQuotaErrorOfTheOperationIsTheLaunchFailureVerbatim() throws Exception {
    provider = provider();
    String message =
        "Preflight validation check for resource(s) for container service aks-1 in resource group"
            + " rg-1 failed. Message: Operation could not be completed as it results in exceeding"
            + " approved standardNCADSA100v4Family Cores quota. Additional details - Deployment"
            + " Model: Resource Manager, Location: eastus, Current Limit: 0, Current Usage: 0,"
            + " Additional Required: 24, (Minimum) New Limit Required: 24.";
    arm.failCreate("wsquota1", "QuotaExceeded", message);
    NodeClaim c = claim("wsquota1");

    assertThat(launchFailure(() -> provider.create(c)).pending()).isTrue();
    assertThat(launchFailure(() -> provider.create(c)).pending()).isTrue();
    LaunchException failed = launchFailure(() -> provider.create(c));

    assertThat(failed.pending()).isFalse();
    assertThat(failed.retryable()).isFalse();
    assertThat(failed.reason()).isEqualTo("QuotaExceeded");
    assertThat(failed.getMessage()).isEqualTo(message);
    // Afterwards the pool is seen as Failed, not created again.
    assertThat(launchFailure(() -> provider.create(c)).reason()).isEqualTo("AgentPoolFailed");
    assertThat(count("PUT", "wsquota1")).isEqualTo(1);
  }

  @Test
  void aSizeArmRefusesAtOnceIsPermanentWithArmsCodeAndMessage() throws Exception {
    provider = provider();
    arm.unavailableSizes.add(A100);

    LaunchException e = launchFailure(() -> provider.create(claim("wsabc123")));

    assertThat(e.pending()).isFalse();
    assertThat(e.retryable()).isFalse();
    assertThat(e.reason()).isEqualTo("InvalidParameter");
    assertThat(e.getMessage())
        .isEqualTo(
            "The VM size of "
                + A100
                + " is not allowed in your subscription in location 'eastus'.");
  }

  @Test
  void throttlingIsRetriedAfterTheRetryAfterDelay() throws Exception {
    provider = provider();
    provider.get(claim("wswarm")); // token and connection first, so only the delay is measured
    arm.throttle(1, 1);

    assertThat(launchFailure(() -> provider.create(claim("wsabc123"))).pending()).isTrue();

    var reqs = arm.requests();
    var first = reqs.stream().filter(r -> r.path().endsWith("/wsabc123")).findFirst().orElseThrow();
    var retried =
        reqs.stream()
            .filter(r -> r.path().endsWith("/wsabc123") && r.nanos() > first.nanos())
            .findFirst()
            .orElseThrow();
    double seconds = (retried.nanos() - first.nanos()) / 1e9;
    // Retry-After: 1 s; our configured backoff is 20 ms (at most 100 ms), so a retry this late
    // is the header's (10 ms below for clock granularity). Upper bound: well above the 1 s plus
    // one TLS request, since this 2-core machine is shared and often heavily loaded.
    assertThat(seconds).isBetween(0.99, 6.0);
  }

  @Test
  void aServerOutageIsTransientNotALaunchFailure() throws Exception {
    provider = provider();
    provider.get(claim("wswarm"));
    arm.forceStatus = 503;

    assertThatThrownBy(() -> provider.create(claim("wsabc123")))
        .isNotInstanceOf(LaunchException.class)
        .hasMessageContaining("503");
    // First try and two retries.
    assertThat(count("GET", "/wsabc123")).isEqualTo(3);
  }

  @Test
  void aRestartedProviderFollowsThePoolsStateInsteadOfPuttingAgain() throws Exception {
    provider = provider();
    NodeClaim c = claim("wsabc123");
    arm.stepsPerOperation = 3;
    assertThat(launchFailure(() -> provider.create(c)).pending()).isTrue();

    // A new process: the poller is gone, the pool is not.
    var restarted =
        new AzureAgentPoolCloudProvider(
            azure.pools(), "rg-1", "aks-1", pool -> Optional.ofNullable(joined.get()));
    LaunchException creating = launchFailure(() -> restarted.create(c));
    assertThat(creating.pending()).isTrue();
    assertThat(creating.getMessage())
        .isEqualTo("agent pool wsabc123 is in provisioningState Creating");
    arm.finishOperations();
    assertThat(launchFailure(() -> restarted.create(c)).reason()).isEqualTo("NodeNotJoined");
    assertThat(count("PUT", "/wsabc123")).isEqualTo(1);
  }

  @Test
  void aMissingRoleIsARetryableLaunchFailureTheUserCanRead() throws Exception {
    provider = provider();
    arm.forceStatus = 403;

    LaunchException e = launchFailure(() -> provider.create(claim("wsabc123")));

    assertThat(e.pending()).isFalse();
    assertThat(e.retryable()).isTrue();
    assertThat(e.reason()).isEqualTo("AuthorizationFailed");
    assertThat(e.getMessage())
        .startsWith("The client 'client-1' with object id 'oid-1' does not have authorization");
  }

  @Test
  void deleteIsIdempotentAndTheInstanceShowsDeletingUntilItIsGone() throws Exception {
    provider = provider();
    NodeClaim c = claim("wsabc123");
    arm.stepsPerOperation = 1;
    assertThat(launchFailure(() -> provider.create(c)).pending()).isTrue();
    assertThat(launchFailure(() -> provider.create(c)).reason()).isEqualTo("NodeNotJoined");
    arm.stepsPerOperation = 3;

    provider.delete(c);
    provider.delete(c);

    assertThat(count("DELETE", "/wsabc123")).isEqualTo(1);
    assertThat(provider.get(c)).hasValueSatisfying(i -> assertThat(i.deleting()).isTrue());
    assertThat(provider.get(c)).isEmpty();
    provider.delete(c);
    provider.delete(claim("wsnever1"));
    assertThat(count("DELETE", "")).isEqualTo(1);
  }

  @Test
  void listPagesThroughNextLinkAndReturnsOnlyKaitosPools() throws Exception {
    provider = provider();
    arm.addForeignPool("nodepool1");
    for (String name : List.of("wsone", "wstwo", "wsthree")) {
      assertThat(launchFailure(() -> provider.create(claim(name))).pending()).isTrue();
    }

    List<Instance> all = provider.list();

    assertThat(all)
        .extracting(Instance::claimName)
        .containsExactlyInAnyOrder("wsone", "wstwo", "wsthree");
    assertThat(all)
        .allSatisfy(
            i -> assertThat(i.createdAt()).isEqualTo(Instant.parse("2026-11-29T20:01:02Z")));
    assertThat(count("GET", "/agentPools")).isGreaterThanOrEqualTo(2); // two pages
  }

  @Test
  void theAgentPoolIsOneVmOfTheClaimsSizeWithItsLabelsTaintsAndDisk() throws Exception {
    NodeClaim c = claim("wsabc123");
    AgentPoolInner pool = AgentPools.agentPool(c);

    assertThat(pool.vmSize()).isEqualTo(A100);
    assertThat(pool.count()).isEqualTo(1);
    assertThat(pool.osDiskSizeGB()).isEqualTo(300);
    assertThat(pool.osSku().toString()).isEqualTo("Ubuntu");
    assertThat(pool.nodeTaints()).containsExactly("sku=gpu:NoSchedule");
    assertThat(pool.nodeLabels())
        .containsEntry("kaito.sh/workspace", "phi")
        .containsEntry("karpenter.sh/nodepool", "kaito")
        .containsEntry("kaito.sh/machine-type", "gpu")
        .containsEntry("kaito.sh/creation-timestamp", "2026-11-29T20-01-02Z");

    c.getMetadata().setAnnotations(Map.of("kaito.sh/node-image-family", "azurelinux"));
    assertThat(AgentPools.agentPool(c).osSku().toString()).isEqualTo("AzureLinux");
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
}
