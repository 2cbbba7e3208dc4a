package sh.kaito.controller.runtime;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceState;
import sh.kaito.controller.ControllerOptions;
import sh.kaito.controller.progress.HttpTuningProgressSource;
import sh.kaito.controller.progress.TuningProgressPoller;
import sh.kaito.controller.progress.TuningProgressSource;
import sh.kaito.controller.provision.ByoNodeProvisioner;
import sh.kaito.controller.provision.NodeClaimProvisioner;
import sh.kaito.controller.provision.NodeProvisioner;
import sh.kaito.controller.reconcile.Result;
import sh.kaito.controller.reconcile.WorkspaceReconciler;
import sh.kaito.controller.tuning.TrainingConfigMaps;
import sh.kaito.controller.tuning.TuningOptions;
import sh.kaito.operator.WorkQueue;
import sh.kaito.presets.catalog.PresetCatalog;
import sh.kaito.presets.sku.SkuTable;

/**
 * Informers → work queue → worker threads → {@link WorkspaceReconciler}. Started when this process
 * becomes leader; closing it stops everything it started.
 */
public final class WorkspaceController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WorkspaceController.class);

  private final ControllerOptions options;
  private final WorkQueue queue = new WorkQueue();
  private final InformerClusterView view;
  private final WorkspaceReconciler reconciler;
  private final EventRecorder.Kubernetes events;
  private final TuningProgressPoller progress;
  private final List<Thread> workers = new ArrayList<>();
  private final Timer duration;
  private final Counter errors;
  private volatile boolean running;

  /** A controller that does not read tuning progress (tests, and runs outside a cluster). */
  public WorkspaceController(
      KubernetesClient client, ControllerOptions options, MeterRegistry metrics) {
    this(client, options, metrics, TuningProgressSource.none());
  }

  /**
   * @param progress where running tuning pods' progress is read; {@link HttpTuningProgressSource}
   *     only when the controller runs inside the cluster, where pod IPs are reachable
   */
  public WorkspaceController(
      KubernetesClient client,
      ControllerOptions options,
      MeterRegistry metrics,
      TuningProgressSource progress) {
    this(
        client,
        options,
        metrics,
        new TuningOptions(progress, TuningOptions.DEFAULT_PROGRESS_INTERVAL, null));
  }

  /**
   * @param tuning progress polling and where the default training configs live
   */
  public WorkspaceController(
      KubernetesClient client,
      ControllerOptions options,
      MeterRegistry metrics,
      TuningOptions tuning) {
    this.options = options;
    this.view = new InformerClusterView(client, !options.nodeAutoProvisioning(), queue::add);
    this.events = new EventRecorder.Kubernetes(client);
    this.progress =
        new TuningProgressPoller(tuning.progress(), tuning.progressInterval(), view, queue::add);
    SkuTable skus = SkuTable.azure();
    NodeProvisioner provisioner =
        options.nodeAutoProvisioning()
            ? new NodeClaimProvisioner(client, view, options, events, skus)
            : new ByoNodeProvisioner(view);
    this.reconciler =
        new WorkspaceReconciler(
            client,
            view,
            provisioner,
            PresetCatalog.builtIn(),
            skus,
            options,
            events,
            Clock.systemUTC(),
            progress,
            new TrainingConfigMaps(
                (ns, name) -> client.configMaps().inNamespace(ns).withName(name).get(),
                tuning.templateNamespace()));
    this.duration =
        Timer.builder("kaito.reconcile.duration")
            .description("Workspace reconcile duration")
            .publishPercentileHistogram()
            .register(metrics);
    this.errors =
        Counter.builder("kaito.reconcile.errors")
            .description("Workspace reconciles that failed unexpectedly")
            .register(metrics);
    for (String state :
        List.of(
            WorkspaceState.PENDING,
            WorkspaceState.READY,
            WorkspaceState.NOT_READY,
            WorkspaceState.RUNNING,
            WorkspaceState.SUCCEEDED,
            WorkspaceState.FAILED)) {
      Gauge.builder("kaito.workspaces", () -> countInState(state))
          .description("Workspaces by status.state")
          .tag("state", state)
          .register(metrics);
    }
  }

  private long countInState(String state) {
    return view.workspaces().stream()
        .filter(
            w ->
                Objects.equals(
                    state,
                    w.getStatus() == null || w.getStatus().state() == null
                        ? WorkspaceState.PENDING
                        : w.getStatus().state()))
        .count();
  }

  /** Starts informers, waits for their first list, then starts the workers. */
  public void start() throws Exception {
    running = true;
    view.start(120);
    for (int i = 0; i < options.workers(); i++) {
      Thread t = new Thread(this::work, "kaito-worker-" + i);
      t.setDaemon(true);
      t.start();
      workers.add(t);
    }
    log.info(
        "event=ControllerStarted workers={} provisioner={}",
        options.workers(),
        options.nodeProvisioner());
  }

  public boolean ready() {
    return running && view.hasSynced();
  }

  private void work() {
    while (running) {
      String key;
      try {
        key = queue.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (key == null) {
        return;
      }
      int slash = key.indexOf('/');
      Timer.Sample sample = Timer.start();
      try {
        Result r = reconciler.reconcile(key.substring(0, slash), key.substring(slash + 1));
        if (r.requeue()) {
          queue.addAfter(key, r.requeueAfter());
        }
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          // A write raced another (our cache was behind): not an error, try again at once with
          // the newer object the watch brings.
          log.debug("event=ReconcileConflict workspace={}", key);
          queue.addAfter(key, Duration.ofMillis(100));
        } else {
          errors.increment();
          log.warn("event=ReconcileFailed workspace={} error=\"{}\"", key, e.toString());
          queue.addAfter(key, Duration.ofSeconds(5));
        }
      } catch (RuntimeException e) {
        errors.increment();
        log.warn("event=ReconcileFailed workspace={} error=\"{}\"", key, e.toString());
        queue.addAfter(key, Duration.ofSeconds(5));
      } finally {
        sample.stop(duration);
        queue.done(key);
      }
    }
  }

  /** For tests and benchmarks: the cached workspace. */
  public Workspace cached(String namespace, String name) {
    return view.workspace(namespace, name);
  }

  @Override
  public void close() {
    running = false;
    queue.close();
    for (Thread t : workers) {
      t.interrupt();
    }
    progress.close();
    view.close();
    events.close();
    log.info("event=ControllerStopped");
  }
}
