package sh.kaito.operator;

import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A keyed work queue for Kaito's controllers, with client-go's guarantees: a key waiting is queued
 * once however many events arrive, a key is never processed by two workers at once, and a key added
 * while it is being processed is processed again afterwards.
 */
public final class WorkQueue implements AutoCloseable {
  private final LinkedHashSet<String> queue = new LinkedHashSet<>();
  private final Set<String> processing = new HashSet<>();
  private final Set<String> dirtyWhileProcessing = new HashSet<>();
  private final ScheduledExecutorService delays =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "kaito-requeue");
            t.setDaemon(true);
            return t;
          });
  private boolean closed;

  public synchronized void add(String key) {
    if (closed) {
      return;
    }
    if (processing.contains(key)) {
      dirtyWhileProcessing.add(key);
      return;
    }
    if (queue.add(key)) {
      notifyAll();
    }
  }

  /** Adds the key once the delay has passed (a requeue); nothing after close. */
  public void addAfter(String key, Duration delay) {
    synchronized (this) {
      if (closed) {
        return;
      }
    }
    delays.schedule(() -> add(key), delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The next key to process, waiting for one; null once closed. */
  public synchronized String take() throws InterruptedException {
    while (queue.isEmpty() && !closed) {
      wait();
    }
    if (closed) {
      return null;
    }
    var it = queue.iterator();
    String key = it.next();
    it.remove();
    processing.add(key);
    return key;
  }

  /** Marks a key processed; requeues it when an event came in meanwhile. */
  public synchronized void done(String key) {
    processing.remove(key);
    if (dirtyWhileProcessing.remove(key) && queue.add(key)) {
      notifyAll();
    }
  }

  public synchronized int size() {
    return queue.size();
  }

  @Override
  public synchronized void close() {
    closed = true;
    delays.shutdownNow();
    notifyAll();
  }
}
