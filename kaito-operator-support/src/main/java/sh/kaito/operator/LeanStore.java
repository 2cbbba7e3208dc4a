package sh.kaito.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * An informer store that keeps only what its controller reads: each object is trimmed in place as
 * the informer stores it ({@code managedFields} always; more where the caller says so, e.g. a Pod's
 * spec when only its status is read), and kept either as the object, its metadata strings shared
 * ({@link #trimming}), or as compact JSON parsed on each read ({@link #serialized}). The
 * controller's memory is then set by what it reads, not by how much other writers (kubectl's
 * last-applied copy, server-side apply's field owners) put on the objects.
 *
 * <p>The informer passes the same, trimmed object to the event handlers, so handlers must read only
 * what the trim keeps, like the reconcile. A trimmed object must never be written back whole (an
 * update of a Pod without its spec would fail, of a Workspace without an annotation would drop it):
 * read the live object for that.
 */
public final class LeanStore<T extends HasMetadata> implements ItemStore<T> {
  /** The annotation {@code kubectl apply} stores a full copy of the object in. */
  public static final String LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

  private final ConcurrentHashMap<String, Object> items = new ConcurrentHashMap<>();
  private final Consumer<? super T> trim;
  private final Function<T, Object> encode;
  private final Function<Object, T> decode;

  @SuppressWarnings("unchecked")
  private LeanStore(Consumer<? super T> trim) {
    this(trim, o -> o, o -> (T) o);
  }

  private LeanStore(
      Consumer<? super T> trim, Function<T, Object> encode, Function<Object, T> decode) {
    this.trim = trim;
    this.encode = encode;
    this.decode = decode;
  }

  /** A store that drops {@code managedFields}, shares common strings, then applies {@code trim}. */
  public static <T extends HasMetadata> LeanStore<T> trimming(Consumer<? super T> trim) {
    return new LeanStore<>(
        o -> {
          dropManagedFields(o);
          internMetadata(o);
          trim.accept(o);
        });
  }

  /**
   * A store that drops {@code managedFields}, applies {@code trim} and keeps each object as its
   * compact JSON (UTF-8 bytes), parsed again on every read.
   *
   * <p>A parsed Kubernetes object takes three to four times the heap of its JSON (a map and a list
   * per model object, a String per value), so this is for the many secondary objects a controller
   * reads a few at a time, by key or by index (a workspace's pods, StatefulSet, Services,
   * revisions): a read costs a parse of a few KiB. Not for what is listed whole or read often (the
   * primary objects, nodes matched by label). Every read returns a fresh copy.
   */
  public static <T extends HasMetadata> LeanStore<T> serialized(
      KubernetesSerialization json, Class<T> type, Consumer<? super T> trim) {
    return new LeanStore<>(
        o -> {
          dropManagedFields(o);
          trim.accept(o);
        },
        o -> json.asJson(o).getBytes(StandardCharsets.UTF_8),
        bytes -> json.unmarshal(new ByteArrayInputStream((byte[]) bytes), type));
  }

  /** A store that drops {@code managedFields} and shares common strings only. */
  public static <T extends HasMetadata> LeanStore<T> withoutManagedFields() {
    return trimming(o -> {});
  }

  /**
   * One copy of each metadata string that objects repeat: the namespace, label and annotation
   * values, owner references (a workspace's name and uid stand in each of its objects), finalizers.
   * Every object arrives as freshly parsed JSON, so without this thousands of equal strings stay.
   */
  public static void internMetadata(HasMetadata o) {
    ObjectMeta m = o.getMetadata();
    if (m == null) {
      return;
    }
    m.setName(intern(m.getName()));
    m.setNamespace(intern(m.getNamespace()));
    internValues(m.getLabels());
    internValues(m.getAnnotations());
    if (m.getFinalizers() != null) {
      m.getFinalizers().replaceAll(LeanStore::intern);
    }
    if (m.getOwnerReferences() != null) {
      for (OwnerReference r : m.getOwnerReferences()) {
        r.setApiVersion(intern(r.getApiVersion()));
        r.setKind(intern(r.getKind()));
        r.setName(intern(r.getName()));
        r.setUid(intern(r.getUid()));
      }
    }
  }

  /** The canonical copy of {@code s} (null stays null). */
  public static String intern(String s) {
    return s == null ? null : s.intern();
  }

  private static void internValues(Map<String, String> map) {
    if (map != null) {
      map.replaceAll((k, v) -> intern(v));
    }
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
    return decoded(items.put(key, encode.apply(obj)));
  }

  @Override
  public T remove(String key) {
    return decoded(items.remove(key));
  }

  @Override
  public Stream<String> keySet() {
    return items.keySet().stream();
  }

  @Override
  public Stream<T> values() {
    return items.values().stream().map(decode);
  }

  @Override
  public int size() {
    return items.size();
  }

  @Override
  public T get(String key) {
    return decoded(items.get(key));
  }

  private T decoded(Object stored) {
    return stored == null ? null : decode.apply(stored);
  }
}
