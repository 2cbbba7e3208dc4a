package sh.kaito.controller.runtime;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
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
import sh.kaito.operator.ControllerLoop;
import sh.kaito.operator.OperatorProcess;
import sh.kaito.operator.WorkQueue;
import sh.kaito.presets.catalog.PresetCatalog;
import sh.kaito.presets.sku.SkuTable;

/**
 * Informers → work queue → worker threads ({@link ControllerLoop}) → {@link WorkspaceReconciler}.
 * Started when this process becomes leader; closing it stops everything it started.
 */
public final class WorkspaceController implements OperatorProcess.Controller {
  private static final Logger log = LoggerFactory.getLogger(WorkspaceController.class);

  private final ControllerOptions options;
  private final WorkQueue queue = new WorkQueue();
  private final InformerClusterView view;
  private final WorkspaceReconciler reconciler;
  private final EventRecorder.Kubernetes events;
  private final TuningProgressPoller progress;
  private final ControllerLoop loop;
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
    this.loop =
        new ControllerLoop(
            new ControllerLoop.Options(
                "workspace",
                options.workers(),
                Duration.ofMillis(100),
                Duration.ofSeconds(5),
                Duration.ofMinutes(5)),
            queue,
            key -> {
              int slash = key.indexOf('/');
              Result r = reconciler.reconcile(key.substring(0, slash), key.substring(slash + 1));
              return r.requeue() ? Optional.of(r.requeueAfter()) : Optional.empty();
            },
            metrics);
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
  @Override
  public void start() throws Exception {
    running = true;
    view.start(120);
    loop.start();
    log.info(
        "event=ControllerStarted workers={} provisioner={}",
        options.workers(),
        options.nodeProvisioner());
  }

  @Override
  public boolean ready() {
    return running && view.hasSynced();
  }

  /** Liveness: every worker alive and every informer watching (nothing before start). */
  @Override
  public List<String> problems() {
    List<String> problems = new ArrayList<>(loop.problems());
    problems.addAll(view.liveness().problems());
    return problems;
  }

  /** For tests and benchmarks: the cached workspace. */
  public Workspace cached(String namespace, String name) {
    return view.workspace(namespace, name);
  }

  @Override
  public void close() {
    running = false;
    loop.close();
    progress.close();
    view.close();
    events.close();
    log.info("event=ControllerStopped");
  }
}
