package sh.kaito.operator;

import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

/**
 * What {@code /healthz} and {@code /readyz} answer. Liveness fails only for what a restart cures: a
 * worker thread that died, an informer that stopped for good. Waiting for the API server is not a
 * liveness failure (a restart would wait just the same).
 */
public final class Health {
  /** One part of liveness: what is wrong with it, or nothing. */
  @FunctionalInterface
  public interface Check {
    List<String> problems();
  }

  private final List<Check> liveness = new CopyOnWriteArrayList<>();
  private volatile BooleanSupplier readiness = () -> true;

  public void addLiveness(Check check) {
    liveness.add(check);
  }

  /** Replaces what {@code /readyz} asks (default: always ready). */
  public void readiness(BooleanSupplier ready) {
    this.readiness = ready;
  }

  public List<String> livenessProblems() {
    List<String> all = new ArrayList<>();
    for (Check c : liveness) {
      all.addAll(c.problems());
    }
    return all;
  }

  public boolean ready() {
    return readiness.getAsBoolean();
  }

  /**
   * A check that fails once any of these informers has stopped: fabric8 completes {@code stopped()}
   * exceptionally when an error ends the informer (it no longer watches, its cache goes stale and
   * no event reaches the queue again). Informers never started are fine.
   */
  public static Check informers(Map<String, ? extends SharedIndexInformer<?>> informers) {
    return () -> {
      List<String> problems = new ArrayList<>();
      informers.forEach(
          (name, informer) -> {
            CompletableFuture<Void> stopped = informer.stopped().toCompletableFuture();
            if (stopped.isDone()) {
              problems.add("informer " + name + " stopped" + cause(stopped));
            }
          });
      return problems;
    };
  }

  private static String cause(CompletableFuture<Void> stopped) {
    try {
      stopped.join();
      return "";
    } catch (CompletionException | java.util.concurrent.CancellationException e) {
      Throwable c = e.getCause() == null ? e : e.getCause();
      return ": " + c;
    }
  }
}
