package sh.kaito.provisioner.lifecycle;

import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A keyed work queue with client-go's guarantees (the same pattern as kaito-controller's): a
 * waiting key is queued once however many events arrive, a key is never processed by two workers at
 * once, and a key added while it is processed is processed again afterwards.
 */
final class WorkQueue implements AutoCloseable {
  private final LinkedHashSet<String> queue = new LinkedHashSet<>();
  private final Set<String> processing = new HashSet<>();
  private final Set<String> dirty = new HashSet<>();
  private final ScheduledExecutorService delays =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "provisioner-requeue");
            t.setDaemon(true);
            return t;
          });
  private boolean closed;

  synchronized void add(String key) {
    if (closed) {
      return;
    }
    if (processing.contains(key)) {
      dirty.add(key);
    } else if (queue.add(key)) {
      notifyAll();
    }
  }

  void addAfter(String key, Duration delay) {
    synchronized (this) {
      if (closed) {
        return;
      }
    }
    delays.schedule(() -> add(key), delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The next key, waiting for one; null once closed. */
  synchronized String take() throws InterruptedException {
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

  synchronized void done(String key) {
    processing.remove(key);
    if (dirty.remove(key) && queue.add(key)) {
      notifyAll();
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    delays.shutdownNow();
    notifyAll();
  }
}
