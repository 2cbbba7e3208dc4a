package sh.kaito.operator;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Work queue → worker threads → one reconcile per key: the loop both of Kaito's controllers run.
 *
 * <p>What every reconcile gets from it: a write that lost a race (HTTP 409, our cache was behind)
 * is retried soon and is not an error; any other {@link RuntimeException} is logged, counted and
 * retried with a per-key exponential backoff (client-go's item backoff: the delay doubles with each
 * consecutive failure of the same key, and a success resets it). An {@link Error} is not caught: it
 * ends its worker thread, which {@link #problems()} then reports, so that the liveness probe fails
 * and the kubelet restarts the process instead of leaving it up with fewer (or no) workers.
 */
public final class ControllerLoop implements AutoCloseable, Health.Check {
  private static final Logger log = LoggerFactory.getLogger(ControllerLoop.class);

  /**
   * Test-only hook (a system property): a reconcile of exactly this key throws an {@link Error}, so
   * that a test can watch a worker die. Never set in a deployment.
   */
  public static final String ERROR_HOOK_PROPERTY = "kaito.testHook.errorOnKey";

  /** Reconciles one key; returns when to look again, empty to wait for the next event. */
  @FunctionalInterface
  public interface Reconciler {
    Optional<Duration> reconcile(String key);
  }

  /**
   * @param name what the keys are ({@code workspace}, {@code nodeclaim}): the log key, the
   *     worker-thread prefix and the {@code controller} tag of the metrics
   * @param workers reconcile threads
   * @param conflictRetry how soon a key whose write got a 409 is reconciled again
   * @param errorBackoff the delay after a key's first unexpected failure
   * @param maxErrorBackoff the longest delay, however often the key fails
   */
  public record Options(
      String name,
      int workers,
      Duration conflictRetry,
      Duration errorBackoff,
      Duration maxErrorBackoff) {
    public Options {
      if (workers < 1) {
        throw new IllegalArgumentException("workers must be at least 1, got " + workers);
      }
      if (errorBackoff.compareTo(maxErrorBackoff) > 0) {
        throw new IllegalArgumentException("errorBackoff must not exceed maxErrorBackoff");
      }
    }
  }

  private final Options options;
  private final WorkQueue queue;
  private final Reconciler reconciler;
  private final Timer duration;
  private final Counter errors;
  private final Counter conflicts;
  private final Map<String, Integer> failures = new ConcurrentHashMap<>();
  private final List<Thread> workers = new ArrayList<>();
  private final Map<String, String> deaths = new ConcurrentHashMap<>();
  private final String errorHookKey = System.getProperty(ERROR_HOOK_PROPERTY);
  private volatile boolean running;

  /**
   * Meters: {@code kaito.reconcile.duration} (histogram), {@code kaito.reconcile.errors}, {@code
   * kaito.reconcile.conflicts}, {@code kaito.workqueue.depth}, each tagged {@code controller}.
   */
  public ControllerLoop(
      Options options, WorkQueue queue, Reconciler reconciler, MeterRegistry metrics) {
    this.options = options;
    this.queue = queue;
    this.reconciler = reconciler;
    String tag = options.name();
    this.duration =
        Timer.builder("kaito.reconcile.duration")
            .description("Reconcile duration")
            .tag("controller", tag)
            .publishPercentileHistogram()
            .register(metrics);
    this.errors =
        Counter.builder("kaito.reconcile.errors")
            .description("Reconciles that failed unexpectedly")
            .tag("controller", tag)
            .register(metrics);
    this.conflicts =
        Counter.builder("kaito.reconcile.conflicts")
            .description("Reconciles retried because a write raced another (HTTP 409)")
            .tag("controller", tag)
            .register(metrics);
    Gauge.builder("kaito.workqueue.depth", queue, WorkQueue::size)
        .description("Keys waiting for a worker")
        .tag("controller", tag)
        .register(metrics);
  }

  /** Starts the workers. */
  public synchronized void start() {
    running = true;
    for (int i = 0; i < options.workers(); i++) {
      Thread t = new Thread(this::work, options.name() + "-worker-" + i);
      t.setDaemon(true);
      workers.add(t);
      t.start();
    }
  }

  private void work() {
    try {
      while (running) {
        String key = queue.take();
        if (key == null) {
          return;
        }
        process(key);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Throwable t) {
      // Only an Error gets here. The JVM exits by itself on OutOfMemoryError (the shipped
      // -XX:+ExitOnOutOfMemoryError); anything else leaves this worker dead, and liveness says so.
      String name = Thread.currentThread().getName();
      deaths.put(name, t.toString());
      log.error("event=WorkerDied worker={} error=\"{}\"", name, t.toString(), t);
    }
  }

  private void process(String key) {
    Timer.Sample sample = Timer.start();
    try {
      if (key.equals(errorHookKey)) {
        throw new Error("test hook " + ERROR_HOOK_PROPERTY + " on " + key);
      }
      Optional<Duration> again = reconciler.reconcile(key);
      failures.remove(key);
      again.ifPresent(d -> queue.addAfter(key, d));
    } catch (KubernetesClientException e) {
      if (Conflicts.isConflict(e)) {
        // Not an error: the watch brings the newer object, and the retry works from it.
        conflicts.increment();
        log.debug("event=ReconcileConflict {}={}", options.name(), key);
        queue.addAfter(key, options.conflictRetry());
      } else {
        failed(key, e);
      }
    } catch (RuntimeException e) {
      failed(key, e);
    } finally {
      sample.stop(duration);
      queue.done(key);
    }
  }

  private void failed(String key, RuntimeException e) {
    errors.increment();
    Duration delay = backoff(failures.merge(key, 1, Integer::sum));
    log.warn(
        "event=ReconcileFailed {}={} retryIn={} error=\"{}\"",
        options.name(),
        key,
        delay,
        e.toString());
    queue.addAfter(key, delay);
  }

  /** The delay after the {@code n}th consecutive failure: base × 2^(n-1), at most the maximum. */
  Duration backoff(int n) {
    Duration d = options.errorBackoff();
    for (int i = 1; i < n && d.compareTo(options.maxErrorBackoff()) < 0; i++) {
      d = d.multipliedBy(2);
    }
    return d.compareTo(options.maxErrorBackoff()) > 0 ? options.maxErrorBackoff() : d;
  }

  /** Workers that died (their thread name and the error), or that are gone while running. */
  @Override
  public synchronized List<String> problems() {
    List<String> problems = new ArrayList<>();
    for (Thread t : workers) {
      String death = deaths.get(t.getName());
      if (death != null) {
        problems.add("worker " + t.getName() + " died: " + death);
      } else if (running && !t.isAlive()) {
        problems.add("worker " + t.getName() + " is not running");
      }
    }
    return problems;
  }

  @Override
  public synchronized void close() {
    running = false;
    queue.close();
    for (Thread t : workers) {
      t.interrupt();
    }
  }
}
