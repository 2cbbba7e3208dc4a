package sh.kaito.provisioner;

import com.azure.core.http.HttpClient;
import com.azure.core.util.Configuration;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.ProxySelector;
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
import sh.kaito.operator.OperatorProcess;
import sh.kaito.presets.sku.SkuTable;
import sh.kaito.provisioner.azure.AzureAgentPoolCloudProvider;
import sh.kaito.provisioner.azure.AzureClients;
import sh.kaito.provisioner.azure.AzureConfig;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.FakeGpuCloudProvider;
import sh.kaito.provisioner.lifecycle.NodeClaimController;
import sh.kaito.provisioner.local.LocalRealCloudProvider;
import sh.kaito.provisioner.local.RealNodeSettings;

/**
 * The provisioner process: turns NodeClaims into nodes until it is stopped, on the fake GPU cloud
 * or on AKS ({@code --provider=azure}). With {@code --leader-elect=true} only the holder of the
 * Lease {@code kaito-provisioner} acts (several replicas may run); {@code /healthz} (fails when a
 * worker or an informer died) and {@code /readyz} on {@code --health-port}, Prometheus {@code
 * /metrics} on {@code --metrics-port}.
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
      provider = provider(options, client, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
      return;
    }
    PrometheusMeterRegistry metrics = OperatorProcess.metrics();
    NodeClaimController controller =
        new NodeClaimController(client, provider, options.controller(), Clock.systemUTC(), metrics);
    log.info(
        "event=Starting provider={} server={} healthPort={} metricsPort={} leaderElect={}",
        provider.name(),
        client.getMasterUrl(),
        options.healthPort(),
        options.metricsPort(),
        options.leaderElect());
    OperatorProcess.run(
        client,
        controller,
        metrics,
        new OperatorProcess.Options(
            options.bindAddress(),
            options.healthPort(),
            options.metricsPort(),
            options.leaderElect() ? options.leaderElectionNamespace() : null,
            "kaito-provisioner"));
  }

  /**
   * The cloud: kwok nodes, or AKS agent pools through the Azure SDK with the credential and
   * location from gpu-provisioner's environment.
   *
   * @throws IllegalArgumentException when the environment lacks what the provider needs
   */
  static CloudProvider provider(
      ProvisionerOptions options, KubernetesClient client, Map<String, String> env)
      throws NoSuchAlgorithmException {
    String name = options.provider();
    if (name.equals("local-real")) {
      return new LocalRealCloudProvider(client, SkuTable.azure(), realNodes(options, env));
    }
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

  /**
   * The real-node settings from the flags and the environment's binaries.
   *
   * @throws IllegalArgumentException naming what is missing or malformed
   */
  static RealNodeSettings realNodes(ProvisionerOptions options, Map<String, String> env) {
    ProvisionerOptions.RealNodeOptions r = options.realNodes();
    String kubeconfig = options.kubeconfig() != null ? options.kubeconfig() : env.get("KUBECONFIG");
    if (kubeconfig == null || kubeconfig.isBlank() || !Files.isRegularFile(Path.of(kubeconfig))) {
      throw new IllegalArgumentException(
          "--provider=local-real needs a kubeconfig file (--kubeconfig or $KUBECONFIG): the"
              + " kubelets and kube-proxy use it");
    }
    Map<String, Path> cas = new java.util.LinkedHashMap<>();
    r.registryCas().forEach((host, file) -> cas.put(host, Path.of(file).toAbsolutePath()));
    RealNodeSettings settings =
        new RealNodeSettings(
            Path.of(r.stateDir()).toAbsolutePath(),
            r.bridge(),
            RealNodeSettings.Subnet.parse(r.subnet()),
            java.util.Optional.ofNullable(r.serviceCidr()),
            Path.of(kubeconfig).toAbsolutePath(),
            r.pauseImage(),
            r.plainHttpRegistries(),
            cas,
            r.dockerConfig() == null
                ? Map.of()
                : RealNodeSettings.dockerConfigAuths(Path.of(r.dockerConfig())),
            RealNodeSettings.Binaries.fromEnvironment(env));
    try {
      if (!Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))) {
        throw new IllegalArgumentException(
            "--provider=local-real starts kubelets and changes the network: run it as root");
      }
    } catch (IOException | UnsupportedOperationException e) {
      throw new IllegalArgumentException("--provider=local-real needs Linux: " + e.getMessage());
    }
    return settings;
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
}
