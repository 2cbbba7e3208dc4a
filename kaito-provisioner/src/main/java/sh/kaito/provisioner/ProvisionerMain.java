package sh.kaito.provisioner;

import com.azure.core.http.HttpClient;
import com.azure.core.util.Configuration;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.operator.KubeConfigs;
import sh.kaito.presets.sku.SkuTable;
import sh.kaito.provisioner.azure.AzureAgentPoolCloudProvider;
import sh.kaito.provisioner.azure.AzureClients;
import sh.kaito.provisioner.azure.AzureConfig;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.FakeGpuCloudProvider;
import sh.kaito.provisioner.lifecycle.NodeClaimController;

/**
 * The provisioner process: turns NodeClaims into nodes until it is stopped, on the fake GPU cloud
 * or on AKS ({@code --provider=azure}). One replica (there is no leader election yet); {@code
 * /healthz} and {@code /readyz} when {@code --health-port} is set.
 */
public final class ProvisionerMain {
  private static final Logger log = LoggerFactory.getLogger(ProvisionerMain.class);

  private static final String QUIET_JDK_CLIENT =
      "org.slf4j.simpleLogger.log.com.azure.core.http.jdk.httpclient.JdkHttpClient";

  private ProvisionerMain() {}

  public static void main(String[] args) throws Exception {
    // azure-core's JDK client warns on every request that the JDK sets Content-Length itself.
    if (System.getProperty(QUIET_JDK_CLIENT) == null) {
      System.setProperty(QUIET_JDK_CLIENT, "error");
    }
    ProvisionerOptions options;
    try {
      options = ProvisionerOptions.parse(List.of(args));
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.err.print(ProvisionerOptions.USAGE);
      System.exit(2);
      return;
    }
    KubernetesClient client = client(options.kubeconfig());
    CloudProvider provider;
    try {
      provider = provider(options.provider(), client, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
      return;
    }
    NodeClaimController controller =
        new NodeClaimController(client, provider, options.controller(), Clock.systemUTC());

    HttpServer health = null;
    if (options.healthPort() > 0) {
      health =
          HttpServer.create(new InetSocketAddress(options.bindAddress(), options.healthPort()), 0);
      health.createContext("/healthz", e -> reply(e, 200, "ok"));
      health.createContext(
          "/readyz",
          e -> reply(e, controller.ready() ? 200 : 503, controller.ready() ? "ok" : "starting"));
      health.start();
    }
    HttpServer healthToStop = health;
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  controller.close();
                  if (healthToStop != null) {
                    healthToStop.stop(0);
                  }
                  client.close();
                }));
    log.info(
        "event=Starting provider={} server={} healthPort={}",
        provider.name(),
        client.getMasterUrl(),
        options.healthPort());
    try {
      controller.start(120);
    } catch (Exception e) {
      log.error("event=StartFailed error=\"{}\"", e.toString());
      System.exit(1);
    }
    Thread.currentThread().join();
  }

  /**
   * The cloud: kwok nodes, or AKS agent pools through the Azure SDK with the credential and
   * location from gpu-provisioner's environment.
   *
   * @throws IllegalArgumentException when the environment lacks what the provider needs
   */
  static CloudProvider provider(String name, KubernetesClient client, Map<String, String> env)
      throws NoSuchAlgorithmException {
    if (!name.equals("azure")) {
      return new FakeGpuCloudProvider(client, SkuTable.azure());
    }
    AzureConfig config = AzureConfig.fromEnvironment(env);
    Configuration global = Configuration.getGlobalConfiguration();
    HttpClient http =
        AzureClients.http(SSLContext.getDefault(), ProxySelector.getDefault(), global);
    AzureClients.Retry retry = AzureClients.Retry.defaults();
    log.info("event=AzureConfigured {}", config);
    return new AzureAgentPoolCloudProvider(
        AzureClients.agentPools(
            config, AzureClients.credential(config, http, retry, global), http, retry, global),
        config.resourceGroup(),
        config.clusterName(),
        AzureAgentPoolCloudProvider.nodesFrom(client));
  }

  private static KubernetesClient client(String kubeconfig) throws IOException {
    if (kubeconfig == null) {
      return new KubernetesClientBuilder()
          .withConfig(KubeConfigs.withoutCertificateOnlyRefresh(Config.autoConfigure(null)))
          .build();
    }
    String yaml = Files.readString(Path.of(kubeconfig));
    return new KubernetesClientBuilder()
        .withConfig(KubeConfigs.withoutCertificateOnlyRefresh(Config.fromKubeconfig(yaml)))
        .build();
  }

  private static void reply(HttpExchange e, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    e.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = e.getResponseBody()) {
      out.write(bytes);
    }
  }
}
