package sh.kaito.runtime.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The adapters active for one request, each with its strength, indexed by module path. Immutable;
 * the adapters themselves must stay open while it is used.
 */
public final class Adapters {

  public static final Adapters NONE = new Adapters(Map.of());

  private final Map<String, List<LoraDelta>> byModule;

  private Adapters(Map<String, List<LoraDelta>> byModule) {
    this.byModule = byModule;
  }

  /** An adapter with the strength it is applied with (1 = as trained). */
  public record Active(LoraAdapter adapter, float strength) {}

  public static Adapters of(List<Active> active) {
    Map<String, List<LoraDelta>> byModule = new HashMap<>();
    for (Active a : active) {
      a.adapter()
          .deltas(a.strength())
          .forEach(
              (module, delta) ->
                  byModule.computeIfAbsent(module, k -> new ArrayList<>()).add(delta));
    }
    Map<String, List<LoraDelta>> frozen = new HashMap<>();
    byModule.forEach((k, v) -> frozen.put(k, List.copyOf(v)));
    return new Adapters(Map.copyOf(frozen));
  }

  public static Adapters of(LoraAdapter adapter, float strength) {
    return of(List.of(new Active(adapter, strength)));
  }

  /**
   * One update per module path, e.g. the LoRA parameters being trained (they must stay open while
   * this is used).
   */
  public static Adapters ofDeltas(Map<String, LoraDelta> byModule) {
    Map<String, List<LoraDelta>> frozen = new HashMap<>();
    byModule.forEach((k, v) -> frozen.put(k, List.of(v)));
    return new Adapters(Map.copyOf(frozen));
  }

  /**
   * The adapters of a batch whose consecutive row ranges belong to different sequences, each with
   * its own adapters ({@code perSequence[i]} for the next {@code rows[i]} rows): one update per
   * distinct LoRA weight pair and module, scaled per row by a [total rows, 1] factor (0 where a
   * sequence does not use it). The factors live in {@code scope}.
   */
  public static Adapters perRow(
      List<Adapters> perSequence, int[] rows, NDManager scope, DataType dataType) {
    int total = Arrays.stream(rows).sum();
    // Per module, each LoRA weight pair once, in the order the sequences list them (a row with
    // two adapters adds their deltas in its own order, as alone).
    Map<String, List<NDArray>> order = new HashMap<>();
    Map<String, Map<NDArray, float[]>> factors = new HashMap<>();
    Map<NDArray, NDArray> bOf = new IdentityHashMap<>();
    int at = 0;
    for (int i = 0; i < perSequence.size(); i++) {
      for (var e : perSequence.get(i).byModule.entrySet()) {
        Map<NDArray, float[]> perWeight =
            factors.computeIfAbsent(e.getKey(), k -> new IdentityHashMap<>());
        for (LoraDelta d : e.getValue()) {
          float[] f = perWeight.get(d.a());
          if (f == null) {
            f = new float[total];
            perWeight.put(d.a(), f);
            order.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(d.a());
            bOf.put(d.a(), d.b());
          }
          for (int r = at; r < at + rows[i]; r++) {
            f[r] += d.scale(); // the same adapter twice in one request adds up
          }
        }
      }
      at += rows[i];
    }
    // Equal factor vectors (the usual case: one alpha/r per adapter) share one native tensor.
    Map<FloatKey, NDArray> made = new HashMap<>();
    Map<String, List<LoraDelta>> byModule = new HashMap<>();
    order.forEach(
        (module, weights) -> {
          List<LoraDelta> deltas = new ArrayList<>();
          for (NDArray a : weights) {
            float[] f = factors.get(module).get(a);
            NDArray column =
                made.computeIfAbsent(
                    new FloatKey(f),
                    k -> scope.create(f, new Shape(f.length, 1)).toType(dataType, false));
            deltas.add(new LoraDelta(a, bOf.get(a), 1f, 0f, column));
          }
          byModule.put(module, List.copyOf(deltas));
        });
    return new Adapters(Map.copyOf(byModule));
  }

  /** float[] with value equality, as a map key. */
  private record FloatKey(float[] values) {
    @Override
    public boolean equals(Object o) {
      return o instanceof FloatKey k && Arrays.equals(values, k.values);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(values);
    }
  }

  public List<LoraDelta> deltas(String module) {
    return byModule.getOrDefault(module, List.of());
  }

  public boolean isEmpty() {
    return byModule.isEmpty();
  }
}
