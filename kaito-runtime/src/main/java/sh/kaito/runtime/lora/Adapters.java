package sh.kaito.runtime.lora;

import java.util.ArrayList;
import java.util.HashMap;
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

  public List<LoraDelta> deltas(String module) {
    return byModule.getOrDefault(module, List.of());
  }

  public boolean isEmpty() {
    return byModule.isEmpty();
  }
}
