package sh.kaito.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shape both controller processes share: probes and metrics served from the start, the
 * controller started at once or when this process wins its Lease, everything closed on shutdown.
 */
public final class OperatorProcess {
  private static final Logger log = LoggerFactory.getLogger(OperatorProcess.class);

  private OperatorProcess() {}

  /** A controller as the process sees it. */
  public interface Controller extends AutoCloseable {
    /** Starts informers and workers; returns once the caches are synced. */
    void start() throws Exception;

    /** Caches synced (only asked once started). */
    boolean ready();

    /** Liveness problems: dead workers, stopped informers; empty when healthy. */
    List<String> problems();

    @Override
    void close();
  }

  /**
   * @param bind address of the probe and metrics servers
   * @param healthPort {@code /healthz} and {@code /readyz}, 0 for none
   * @param metricsPort {@code /metrics}, 0 for none
   * @param leaseNamespace where the Lease lives; null runs the controller at once (no election)
   * @param leaseName the Lease
   */
  public record Options(
      String bind, int healthPort, int metricsPort, String leaseNamespace, String leaseName) {}

  /** A Prometheus registry with the JVM's memory, GC, thread and CPU meters. */
  public static PrometheusMeterRegistry metrics() {
    PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(metrics);
    new JvmGcMetrics().bindTo(metrics);
    new JvmThreadMetrics().bindTo(metrics);
    new ProcessorMetrics().bindTo(metrics);
    return metrics;
  }

  /**
   * Serves the probes and metrics, runs the controller (when leading), and closes it, {@code
   * alsoClose} and the client on shutdown. Blocks for the life of the process; a controller that
   * fails to start ends it with status 1.
   */
  public static void run(
      KubernetesClient client,
      Controller controller,
      PrometheusMeterRegistry metrics,
      Options options,
      AutoCloseable... alsoClose)
      throws Exception {
    AtomicBoolean leading = new AtomicBoolean();
    Health health = new Health();
    // A follower is ready (it serves what it serves, e.g. the webhook); the leader once synced.
    health.readiness(() -> !leading.get() || controller.ready());
    health.addLiveness(controller::problems);
    ProbeServer probes =
        ProbeServer.start(
            options.bind(), options.healthPort(), options.metricsPort(), health, metrics::scrape);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  controller.close();
                  for (AutoCloseable c : alsoClose) {
                    closeQuietly(c);
                  }
                  probes.close();
                  client.close();
                }));
    Runnable lead =
        () -> {
          leading.set(true);
          try {
            controller.start();
          } catch (Exception e) {
            log.error("event=ControllerStartFailed error=\"{}\"", e.toString());
            System.exit(1);
          }
        };
    if (options.leaseNamespace() == null) {
      lead.run();
      Thread.currentThread().join();
    } else {
      Leadership.run(client, options.leaseNamespace(), options.leaseName(), lead);
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      log.debug("event=CloseFailed error=\"{}\"", e.toString());
    }
  }
}
