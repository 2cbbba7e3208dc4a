package sh.kaito.provisioner;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.operator.KubeConfigs;
import sh.kaito.operator.OperatorProcess;
import sh.kaito.presets.sku.SkuTable;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.FakeGpuCloudProvider;
import sh.kaito.provisioner.lifecycle.NodeClaimController;

/**
 * The provisioner process: turns NodeClaims into nodes until it is stopped. With {@code
 * --leader-elect=true} only the holder of the Lease {@code kaito-provisioner} acts (several
 * replicas may run); {@code /healthz} (fails when a worker or an informer died) and {@code /readyz}
 * on {@code --health-port}, Prometheus {@code /metrics} on {@code --metrics-port}.
 */
public final class ProvisionerMain {
  private static final Logger log = LoggerFactory.getLogger(ProvisionerMain.class);

  private ProvisionerMain() {}

  public static void main(String[] args) throws Exception {
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
    CloudProvider provider = new FakeGpuCloudProvider(client, SkuTable.azure());
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
