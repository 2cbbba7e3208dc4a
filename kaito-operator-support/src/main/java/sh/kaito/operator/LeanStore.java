package sh.kaito.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * An informer store that keeps only what its controller reads: each object is trimmed in place as
 * the informer stores it ({@code managedFields} always; more where the caller says so, e.g. a Pod's
 * spec when only its status is read). The controller's memory is then set by what it reads, not by
 * how much other writers (kubectl's last-applied copy, server-side apply's field owners) put on the
 * objects.
 *
 * <p>The informer passes the same, trimmed object to the event handlers, so handlers must read only
 * what the trim keeps, like the reconcile. A trimmed object must never be written back whole (an
 * update of a Pod without its spec would fail, of a Workspace without an annotation would drop it);
 * objects that are updated from the cache keep everything but {@code managedFields} (which an
 * update without them leaves as they are).
 */
public final class LeanStore<T extends HasMetadata> implements ItemStore<T> {
  /** The annotation {@code kubectl apply} stores a full copy of the object in. */
  public static final String LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

  private final ConcurrentHashMap<String, T> items = new ConcurrentHashMap<>();
  private final Consumer<? super T> trim;

  private LeanStore(Consumer<? super T> trim) {
    this.trim = trim;
  }

  /** A store that drops {@code managedFields} and then applies {@code trim}. */
  public static <T extends HasMetadata> LeanStore<T> trimming(Consumer<? super T> trim) {
    return new LeanStore<>(
        o -> {
          dropManagedFields(o);
          trim.accept(o);
        });
  }

  /** A store that drops {@code managedFields} only. */
  public static <T extends HasMetadata> LeanStore<T> withoutManagedFields() {
    return new LeanStore<>(LeanStore::dropManagedFields);
  }

  /**
   * Makes {@code informer} (not started yet) keep its objects in {@code store} and drops its
   * namespace index (Kaito's controllers look objects up by key or by their own indexes).
   */
  public static <T extends HasMetadata> SharedIndexInformer<T> lean(
      SharedIndexInformer<T> informer, LeanStore<T> store) {
    return informer.itemStore(store).removeNamespaceIndex();
  }

  public static void dropManagedFields(HasMetadata o) {
    ObjectMeta m = o.getMetadata();
    if (m != null) {
      m.setManagedFields(null);
    }
  }

  /** Drops the {@code kubectl apply} copy of the object: only for objects never written whole. */
  public static void dropLastApplied(HasMetadata o) {
    Map<String, String> annotations =
        o.getMetadata() == null ? null : o.getMetadata().getAnnotations();
    if (annotations != null && annotations.containsKey(LAST_APPLIED)) {
      annotations.remove(LAST_APPLIED);
    }
  }

  @Override
  public String getKey(T obj) {
    return Cache.metaNamespaceKeyFunc(obj);
  }

  @Override
  public T put(String key, T obj) {
    trim.accept(obj);
    return items.put(key, obj);
  }

  @Override
  public T remove(String key) {
    return items.remove(key);
  }

  @Override
  public Stream<String> keySet() {
    return items.keySet().stream();
  }

  @Override
  public Stream<T> values() {
    return items.values().stream();
  }

  @Override
  public int size() {
    return items.size();
  }

  @Override
  public T get(String key) {
    return items.get(key);
  }
}
