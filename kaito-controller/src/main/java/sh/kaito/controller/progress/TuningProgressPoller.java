package sh.kaito.controller.progress;

import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.v1beta1.TuningProgress;
import sh.kaito.controller.provision.ClusterView;

/**
 * Asks each running tuning pod for its progress every interval, on its own thread, never on a
 * reconcile worker (a pod that does not answer costs this thread its timeout, nobody else). The
 * reconciler says which workspaces have a running Job ({@link #track}/{@link #untrack}) and reads
 * the latest answer from the cache ({@link #latest}); when an answer differs from the last one, the
 * workspace is queued so that the new numbers reach its status.
 */
public final class TuningProgressPoller implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TuningProgressPoller.class);

  private final TuningProgressSource source;
  private final Duration interval;
  private final ClusterView view;
  private final Consumer<String> onChange;
  private final ScheduledExecutorService timer;
  private final Map<String, ScheduledFuture<?>> polling = new ConcurrentHashMap<>();
  private final Map<String, TuningProgress> latest = new ConcurrentHashMap<>();

  /**
   * @param onChange receives {@code namespace/name} when a workspace's progress changed
   */
  public TuningProgressPoller(
      TuningProgressSource source, Duration interval, ClusterView view, Consumer<String> onChange) {
    this.source = Objects.requireNonNull(source, "source");
    this.interval = interval;
    this.view = view;
    this.onChange = onChange;
    this.timer =
        source == TuningProgressSource.NONE
            ? null
            : Executors.newSingleThreadScheduledExecutor(
                r -> {
                  Thread t = new Thread(r, "kaito-tuning-progress");
                  t.setDaemon(true);
                  return t;
                });
  }

  /** A poller that never polls. */
  public static TuningProgressPoller off() {
    return new TuningProgressPoller(TuningProgressSource.NONE, Duration.ofDays(1), null, k -> {});
  }

  /** Starts polling the workspace's running tuning pod now and then every interval. */
  public void track(String namespace, String name) {
    if (timer == null) {
      return;
    }
    String key = namespace + "/" + name;
    polling.computeIfAbsent(
        key,
        k ->
            timer.scheduleWithFixedDelay(
                () -> poll(namespace, name), 0, interval.toMillis(), TimeUnit.MILLISECONDS));
  }

  /** Stops polling the workspace (its Job is not running) and forgets its cached progress. */
  public void untrack(String namespace, String name) {
    String key = namespace + "/" + name;
    ScheduledFuture<?> f = polling.remove(key);
    if (f != null) {
      f.cancel(false);
    }
    latest.remove(key);
  }

  /** The last progress read from the workspace's running pod, or null. */
  public TuningProgress latest(String namespace, String name) {
    return latest.get(namespace + "/" + name);
  }

  private void poll(String namespace, String name) {
    String key = namespace + "/" + name;
    try {
      for (Pod pod : view.pods(namespace, name)) {
        if (!runningJobPod(pod)) {
          continue;
        }
        Optional<TuningProgress> read = source.read(pod);
        if (read.isEmpty()) {
          continue;
        }
        TuningProgress previous = latest.get(key);
        if (polling.containsKey(key) && !sameNumbers(previous, read.get())) {
          latest.put(key, read.get());
          onChange.accept(key);
        }
        return;
      }
    } catch (RuntimeException e) {
      log.debug("event=TuningProgressReadFailed workspace={} error=\"{}\"", key, e.toString());
    }
  }

  private static boolean runningJobPod(Pod pod) {
    return pod.getStatus() != null
        && "Running".equals(pod.getStatus().getPhase())
        && pod.getStatus().getPodIP() != null
        && pod.getMetadata().getOwnerReferences() != null
        && pod.getMetadata().getOwnerReferences().stream().anyMatch(r -> "Job".equals(r.getKind()));
  }

  /** Equal but for when it was read: the same numbers are not news. */
  static boolean sameNumbers(TuningProgress a, TuningProgress b) {
    return a != null
        && b != null
        && Objects.equals(a.step(), b.step())
        && Objects.equals(a.totalSteps(), b.totalSteps())
        && Objects.equals(a.epoch(), b.epoch())
        && Objects.equals(a.loss(), b.loss())
        && Objects.equals(a.tokensPerSecond(), b.tokensPerSecond())
        && Objects.equals(a.etaSeconds(), b.etaSeconds());
  }

  @Override
  public void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
    polling.clear();
  }
}
