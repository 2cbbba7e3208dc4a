package sh.kaito.provisioner.azure;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.provisioner.TestClaims;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.FakeNodes;
import sh.kaito.testsupport.WithControlPlane;

/**
 * {@code ProvisionerMain --provider=azure} as a separate process, configured only through
 * gpu-provisioner's environment variables, against the local ARM and Entra ID fakes (its JVM trusts
 * the test CA through {@code javax.net.ssl.trustStore}) and a real API server. One claim's agent
 * pool has an AKS-like node (labels {@code agentpool}, {@code kubernetes.azure.com/agentpool}, an
 * {@code azure://} providerID) and the claim becomes Ready, and deleting it removes the pool and
 * the node; the other's pool never gets one, so after the registration TTL that claim is deleted
 * and its agent pool with it.
 */
@WithControlPlane
class AzureProvisionerProcessIT {
  private static final String A100 = "Standard_NC24ads_A100_v4";
  private static final int TTL_SECONDS = 3;
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private static void await(String what, Supplier<Boolean> condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (!condition.get()) {
      assertThat(System.nanoTime()).as(what).isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  @Test
  void aClaimWithAnAksNodeBecomesReadyAndOneWithoutIsDeletedAfterTheTtlWithItsPool(
      KubernetesClient client, ControlPlane cp) throws Exception {
    TestCa ca = new TestCa();
    Path log = dir.resolve("provisioner.log");
    try (FakeAzure azure = new FakeAzure(ca, dir)) {
      azure.arm.stepsPerOperation = 1;
      Process process = start(cp, azure, ca.trustStore(dir), log);
      try {
        String served = TestClaims.uniqueName();
        String stranded = TestClaims.uniqueName();
        // The kubelet of the served pool's VM registers as soon as the pool is made; here it is
        // there before the claim.
        Node node = aksNode(served);
        client.nodes().resource(node).create();
        long created = System.nanoTime();
        for (String name : List.of(served, stranded)) {
          client
              .resources(NodeClaim.class)
              .resource(TestClaims.workspaceClaim(name, "ws-" + name, A100))
              .create();
        }

        NodeClaim ready =
            client
                .resources(NodeClaim.class)
                .withName(served)
                .waitUntilCondition(
                    c ->
                        c != null
                            && c.getStatus() != null
                            && Conditions.isTrue(c.getStatus().getConditions(), "Ready"),
                    60,
                    TimeUnit.SECONDS);
        client
            .resources(NodeClaim.class)
            .withName(stranded)
            .waitUntilCondition(Objects::isNull, 60, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - created) / 1e9;

        assertThat(ready.getStatus().getProviderID()).isEqualTo(node.getSpec().getProviderID());
        assertThat(ready.getStatus().getNodeName()).isEqualTo(node.getMetadata().getName());
        var put =
            azure.arm.requests().stream()
                .filter(r -> r.method().equals("PUT") && r.path().endsWith("/" + served))
                .toList();
        assertThat(put).hasSize(1);
        assertThat(
                JSON.readTree(put.get(0).body())
                    .at("/properties/nodeLabels/kaito.sh~1workspace")
                    .asText())
            .isEqualTo("ws-" + served);
        // Condition times have one-second resolution, so the TTL may end up to 1 s early.
        assertThat(seconds).isGreaterThan(TTL_SECONDS - 1.0);
        assertThat(azure.arm.hasPool(stranded)).isFalse();
        assertThat(azure.arm.hasPool(served)).isTrue();
        assertThat(
                azure.arm.requests().stream()
                    .filter(r -> r.method().equals("DELETE") && r.path().endsWith("/" + stranded)))
            .hasSize(1);
        await("the TTL's Event", () -> reasons(client, stranded).contains("RegistrationTimedOut"));
        assertThat(reasons(client, stranded)).contains("Terminating", "Terminated");
        assertThat(reasons(client, served)).contains("Launched", "Registered", "Ready");
        // The token came from the projected token file, through Entra ID.
        assertThat(azure.entra.requests()).isNotEmpty();

        client.resources(NodeClaim.class).withName(served).delete();
        client
            .resources(NodeClaim.class)
            .withName(served)
            .waitUntilCondition(Objects::isNull, 60, TimeUnit.SECONDS);
        assertThat(azure.arm.hasPool(served)).isFalse();
        assertThat(client.nodes().withName(node.getMetadata().getName()).get()).isNull();
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError(
            e.getMessage() + "\nprovisioner log:\n" + Files.readString(log), e);
      } finally {
        process.destroy();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /** An AKS node of the pool, as the kubelet registers it (kwok makes it Ready). */
  private static Node aksNode(String pool) {
    Node node =
        FakeNodes.gpu("aks-" + pool + "-12345678-vmss000000", 1)
            .withTaint()
            .withLabel("agentpool", pool)
            .withLabel("kubernetes.azure.com/agentpool", pool)
            .toNode();
    node.getSpec()
        .setProviderID(
            "azure:///subscriptions/sub-1/resourceGroups/mc_rg/providers/Microsoft.Compute/"
                + "virtualMachineScaleSets/aks-"
                + pool
                + "-12345678-vmss/virtualMachines/0");
    return node;
  }

  private static Process start(ControlPlane cp, FakeAzure azure, Path trustStore, Path log)
      throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx256m");
    command.add("-Djavax.net.ssl.trustStore=" + trustStore);
    command.add("-Djavax.net.ssl.trustStorePassword=changeit");
    command.add("-Djavax.net.ssl.trustStoreType=PKCS12");
    command.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            "sh.kaito.provisioner.ProvisionerMain",
            "--provider=azure",
            "--kubeconfig=" + cp.kubeconfig(),
            "--health-port=" + port,
            "--bind-address=127.0.0.1",
            "--registration-ttl-seconds=" + TTL_SECONDS));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().keySet().removeIf(k -> k.startsWith("AZURE_") || k.startsWith("ARM_"));
    pb.environment().keySet().removeIf(k -> k.toLowerCase(java.util.Locale.ROOT).contains("proxy"));
    pb.environment().putAll(azure.environment());
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Process p = pb.start();
    HttpClient http = HttpClient.newHttpClient();
    HttpRequest ready =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/readyz")).build();
    await(
        "the provisioner ready",
        () -> {
          assertThat(p.isAlive()).as("provisioner running").isTrue();
          try {
            return http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
          } catch (IOException e) {
            return false;
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
          }
        });
    return p;
  }

  private static List<String> reasons(KubernetesClient client, String claim) {
    return client.v1().events().inNamespace("default").list().getItems().stream()
        .filter(e -> claim.equals(e.getInvolvedObject().getName()))
        .map(Event::getReason)
        .toList();
  }
}
