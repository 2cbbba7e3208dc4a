package sh.kaito.operator;

import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import java.util.Collection;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Informer event handlers that only enqueue: every add, update and delete of an object becomes the
 * keys of the objects it concerns (for a Pod, its workspace; for a Node, its NodeClaim). Reconciles
 * read the cache, never the event, so which event it was does not matter.
 */
public final class EventHandlers {
  private EventHandlers() {}

  /** Enqueues the keys {@code keys} names for each event; null and empty keys are skipped. */
  public static <T> ResourceEventHandler<T> enqueueAll(
      Function<? super T, ? extends Collection<String>> keys, Consumer<String> queue) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        emit(obj);
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        emit(newObj);
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        emit(obj);
      }

      private void emit(T obj) {
        for (String k : keys.apply(obj)) {
          if (k != null && !k.isEmpty()) {
            queue.accept(k);
          }
        }
      }
    };
  }

  /** Enqueues the one key {@code key} names for each event (none if it is null or empty). */
  public static <T> ResourceEventHandler<T> enqueue(
      Function<? super T, String> key, Consumer<String> queue) {
    return enqueueAll(
        o -> {
          String k = key.apply(o);
          return k == null ? List.of() : List.of(k);
        },
        queue);
  }
}
