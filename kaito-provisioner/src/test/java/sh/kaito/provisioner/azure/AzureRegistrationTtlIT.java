package sh.kaito.provisioner.azure;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.provisioner.TestClaims;
import sh.kaito.provisioner.lifecycle.NodeClaimController;
import sh.kaito.provisioner.lifecycle.Timings;
import sh.kaito.testsupport.WithControlPlane;

/**
 * Karpenter's registration TTL end to end: the provisioner with the Azure provider (the SDK against
 * the local ARM and Entra ID fakes) and a real API server. The agent pool is made, but no node ever
 * joins, so the claim is deleted when the TTL runs out, and its agent pool with it.
 */
@WithControlPlane
class AzureRegistrationTtlIT {
  private static final Duration TTL = Duration.ofSeconds(3);

  @TempDir Path dir;

  private static void await(String what, Supplier<Boolean> condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.get()) {
      assertThat(System.nanoTime()).as(what).isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  @Test
  void aClaimWhoseNodeNeverRegistersIsDeletedAfterTheTtlAndItsAgentPoolToo(KubernetesClient client)
      throws Exception {
    try (FakeAzure azure = new FakeAzure(new TestCa(), dir)) {
      azure.arm.stepsPerOperation = 1;
      var provider =
          new AzureAgentPoolCloudProvider(
              azure.pools, "rg-1", "aks-1", AzureAgentPoolCloudProvider.nodesFrom(client));
      Timings fast =
          new Timings(
              TTL,
              Duration.ofMillis(200),
              Duration.ofMillis(200),
              Duration.ofMillis(100),
              Duration.ofSeconds(1));
      var options =
          new NodeClaimController.Options(2, Duration.ofHours(1), Duration.ofSeconds(30), fast);
      String name = TestClaims.uniqueName();
      try (var controller = new NodeClaimController(client, provider, options, Clock.systemUTC())) {
        controller.start(60);
        long created = System.nanoTime();
        client
            .resources(NodeClaim.class)
            .resource(TestClaims.workspaceClaim(name, "ws-" + name, "Standard_NC24ads_A100_v4"))
            .create();

        await("agent pool Succeeded", () -> "Succeeded".equals(azure.arm.provisioningState(name)));
        client
            .resources(NodeClaim.class)
            .withName(name)
            .waitUntilCondition(Objects::isNull, 60, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - created) / 1e9;

        // Condition times have one-second resolution, so the TTL may end up to 1 s early.
        assertThat(seconds).isGreaterThan(TTL.toSeconds() - 1.0);
        assertThat(azure.arm.hasPool(name)).isFalse();
        assertThat(
                azure.arm.requests().stream()
                    .filter(r -> r.method().equals("DELETE") && r.path().endsWith("/" + name)))
            .hasSize(1);
        await(
            "RegistrationTimedOut event",
            () -> reasons(client, name).contains("RegistrationTimedOut"));
        assertThat(reasons(client, name)).contains("Terminating", "Terminated");
      }
      azure.assertOnlyLoopbackWasDialled();
    }
  }

  private static List<String> reasons(KubernetesClient client, String claim) {
    return client.v1().events().inNamespace("default").list().getItems().stream()
        .filter(e -> claim.equals(e.getInvolvedObject().getName()))
        .map(Event::getReason)
        .toList();
  }
}
