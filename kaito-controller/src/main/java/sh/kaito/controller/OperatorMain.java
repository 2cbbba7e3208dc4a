package sh.kaito.controller;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.validation.ValidationOptions;
import sh.kaito.controller.progress.HttpTuningProgressSource;
import sh.kaito.controller.progress.TuningProgressSource;
import sh.kaito.controller.runtime.WorkspaceController;
import sh.kaito.controller.tuning.TrainingConfigMaps;
import sh.kaito.controller.tuning.TuningOptions;
import sh.kaito.controller.webhook.AdmissionServer;
import sh.kaito.controller.webhook.TlsMaterial;
import sh.kaito.controller.webhook.WebhookCertificates;
import sh.kaito.controller.webhook.WorkspaceAdmission;
import sh.kaito.operator.KubeConfigs;
import sh.kaito.operator.OperatorProcess;
import sh.kaito.presets.sizing.CatalogPresetChecks;

/**
 * The operator process: admission webhook (every replica), Workspace controller (the leader only,
 * chosen through a Lease), {@code /healthz} (fails when a worker or an informer died) and {@code
 * /readyz}, Prometheus {@code /metrics}.
 *
 * <p>Configuration is environment variables (see docs/controller.md); a lost lease ends the process
 * so that two controllers never act at once.
 */
public final class OperatorMain {
  private static final Logger log = LoggerFactory.getLogger(OperatorMain.class);

  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
    ControllerOptions options = ControllerOptions.fromEnv(env);
    String namespace = env.getOrDefault("KAITO_NAMESPACE", "kaito-system");
    boolean leaderElect = !"false".equals(env.get("KAITO_LEADER_ELECT"));
    int metricsPort = Integer.parseInt(env.getOrDefault("KAITO_METRICS_PORT", "8080"));
    int healthPort = Integer.parseInt(env.getOrDefault("KAITO_HEALTH_PORT", "8081"));
    int webhookPort = Integer.parseInt(env.getOrDefault("KAITO_WEBHOOK_PORT", "9443"));
    String bind = env.getOrDefault("KAITO_BIND_ADDRESS", "0.0.0.0");

    // fabric8 allows 5 concurrent requests per host by default: too few for several workers.
    io.fabric8.kubernetes.client.Config config =
        KubeConfigs.withoutCertificateOnlyRefresh(
            io.fabric8.kubernetes.client.Config.autoConfigure(null));
    config.setMaxConcurrentRequests(64);
    config.setMaxConcurrentRequestsPerHost(Math.max(5, 2 * options.workers()));
    KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
    PrometheusMeterRegistry metrics = OperatorProcess.metrics();
    TuningOptions tuning = tuningOptions(env, namespace);
    WorkspaceController controller = new WorkspaceController(client, options, metrics, tuning);

    AdmissionServer webhook = null;
    if (webhookPort > 0) {
      String service = env.getOrDefault("KAITO_WEBHOOK_SERVICE", "kaito-workspace-webhook");
      TlsMaterial tls =
          WebhookCertificates.ensureSecret(
              client,
              namespace,
              env.getOrDefault("KAITO_WEBHOOK_SECRET", "workspace-webhook-cert"),
              List.of(
                  service,
                  service + "." + namespace,
                  service + "." + namespace + ".svc",
                  service + "." + namespace + ".svc.cluster.local"),
              List.of("127.0.0.1"));
      WebhookCertificates.patchCaBundle(
          client,
          env.getOrDefault("KAITO_WEBHOOK_CONFIGURATION", "kaito-validating-webhook-configuration"),
          tls);
      ValidationOptions validation =
          options.nodeAutoProvisioning()
              ? ValidationOptions.defaults()
              : ValidationOptions.bringYourOwnNodes();
      WorkspaceAdmission admission =
          new WorkspaceAdmission(
              validation,
              CatalogPresetChecks.azure(),
              labels -> client.nodes().withLabels(labels).list().getItems(),
              new TrainingConfigMaps(
                  (ns, name) -> client.configMaps().inNamespace(ns).withName(name).get(),
                  namespace));
      webhook = AdmissionServer.create(bind, webhookPort, tls, admission).start();
    }

    OperatorProcess.run(
        client,
        controller,
        metrics,
        new OperatorProcess.Options(
            bind,
            healthPort,
            metricsPort,
            leaderElect ? namespace : null,
            "kaito-workspace-controller"),
        webhook == null ? new AutoCloseable[0] : new AutoCloseable[] {webhook});
  }

  /**
   * Tuning progress is read from the tune pod's IP, which only a controller inside the cluster (or
   * on a machine routed into the pod network) can reach. {@code KAITO_TUNING_PROGRESS}: {@code
   * auto} (default: on inside a cluster), {@code on}, {@code off}; {@code
   * KAITO_TUNING_PROGRESS_INTERVAL_SECONDS} (15). A controller run from a workstation (the
   * quickstart, tests) must not dial pod IPs that are only data there.
   */
  static TuningOptions tuningOptions(Map<String, String> env, String namespace) {
    String mode = env.getOrDefault("KAITO_TUNING_PROGRESS", "auto");
    boolean on =
        switch (mode) {
          case "on" -> true;
          case "off" -> false;
          case "auto" -> env.containsKey("KUBERNETES_SERVICE_HOST");
          default ->
              throw new IllegalArgumentException(
                  "KAITO_TUNING_PROGRESS must be auto, on or off, not " + mode);
        };
    Duration interval =
        Duration.ofSeconds(
            Long.parseLong(
                env.getOrDefault(
                    "KAITO_TUNING_PROGRESS_INTERVAL_SECONDS",
                    String.valueOf(TuningOptions.DEFAULT_PROGRESS_INTERVAL.toSeconds()))));
    log.info(
        "event=TuningProgress source={} interval={}s",
        on ? "pod-http" : "none",
        interval.toSeconds());
    return new TuningOptions(
        on
            ? new HttpTuningProgressSource(Duration.ofSeconds(1), Clock.systemUTC())
            : TuningProgressSource.none(),
        interval,
        namespace);
  }
}
