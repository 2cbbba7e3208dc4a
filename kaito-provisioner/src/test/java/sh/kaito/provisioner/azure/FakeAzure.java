package sh.kaito.provisioner.azure;

import static org.assertj.core.api.Assertions.assertThat;

import com.azure.core.util.Configuration;
import com.azure.core.util.ConfigurationBuilder;
import com.azure.resourcemanager.containerservice.fluent.AgentPoolsClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * {@link FakeArm} and {@link FakeEntraId} on 127.0.0.1, and the SDK's agent pools client wired to
 * them exactly as {@code ProvisionerMain} wires it to Azure (from gpu-provisioner's environment
 * variables, workload identity with a projected token file), except that it trusts only the test
 * CA, reads no proxy or other setting from this machine, and records every address it dials.
 */
final class FakeAzure implements AutoCloseable {
  static final String SUBSCRIPTION = "sub-1";
  static final String TENANT = "tenant-1";
  static final String CLIENT = "client-1";
  static final String SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig";

  final FakeArm arm;
  final FakeEntraId entra;

  /** Every URI the HTTP client was asked to connect to. */
  final List<URI> connections = new CopyOnWriteArrayList<>();

  private final TestCa ca;
  private final Map<String, String> environment;
  private AgentPoolsClient pools;

  FakeAzure(TestCa ca, Path dir) throws IOException {
    this.ca = ca;
    arm = new FakeArm(ca, SUBSCRIPTION);
    entra = new FakeEntraId(ca, TENANT, CLIENT, SA_TOKEN);
    Path tokenFile = dir.resolve("azure-identity-token");
    Files.writeString(tokenFile, SA_TOKEN, StandardCharsets.UTF_8);
    environment =
        Map.of(
            "ARM_SUBSCRIPTION_ID",
            SUBSCRIPTION,
            "ARM_RESOURCE_GROUP",
            "rg-1",
            "AZURE_CLUSTER_NAME",
            "aks-1",
            "AZURE_TENANT_ID",
            TENANT,
            "AZURE_CLIENT_ID",
            CLIENT,
            "AZURE_FEDERATED_TOKEN_FILE",
            tokenFile.toString(),
            "AZURE_AUTHORITY_HOST",
            entra.endpoint().toString(),
            "ARM_RESOURCE_MANAGER_ENDPOINT",
            arm.endpoint().toString(),
            "AZURE_DISABLE_INSTANCE_DISCOVERY",
            "true");
  }

  /**
   * The SDK's agent pools client for the fakes (built on first use: loading the SDK takes time).
   */
  synchronized AgentPoolsClient pools() {
    if (pools == null) {
      AzureConfig config = AzureConfig.fromEnvironment(environment);
      Configuration none = new ConfigurationBuilder().build();
      var http = AzureClients.http(ca.client, new Recording(), none);
      var retry = new AzureClients.Retry(2, Duration.ofMillis(20), Duration.ofMillis(100));
      pools =
          AzureClients.agentPools(
              config, AzureClients.credential(config, http, retry, none), http, retry, none);
    }
    return pools;
  }

  /** gpu-provisioner's environment variables, pointing at the fakes. */
  Map<String, String> environment() {
    return environment;
  }

  /** Records each target and connects directly. */
  private final class Recording extends ProxySelector {
    @Override
    public List<Proxy> select(URI uri) {
      connections.add(uri);
      return List.of(Proxy.NO_PROXY);
    }

    @Override
    public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
  }

  /** Something was dialled, and only the two fakes on loopback ever were. */
  void assertOnlyLoopbackWasDialled() throws IOException {
    assertThat(connections).isNotEmpty();
    for (URI u : connections) {
      assertThat(InetAddress.getByName(u.getHost()).isLoopbackAddress()).as(u.toString()).isTrue();
      assertThat(u.getPort()).isIn(arm.endpoint().getPort(), entra.endpoint().getPort());
    }
  }

  @Override
  public void close() {
    arm.close();
    entra.close();
  }
}
