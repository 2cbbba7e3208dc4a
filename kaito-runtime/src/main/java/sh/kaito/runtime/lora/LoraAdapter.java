package sh.kaito.runtime.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import sh.kaito.runtime.model.ModelFormatException;
import sh.kaito.runtime.model.SafetensorsFile;

/**
 * A PEFT LoRA adapter directory ({@code adapter_config.json} + {@code adapter_model.safetensors}),
 * loaded once and applied unmerged, so several adapters and strengths can be chosen per request.
 */
public final class LoraAdapter implements AutoCloseable {

  private static final String PREFIX = "base_model.model.";

  private record Pair(NDArray a, NDArray b, float scale) {}

  private final String name;
  private final NDManager manager;
  private final Map<String, Pair> byModule;

  private LoraAdapter(String name, NDManager manager, Map<String, Pair> byModule) {
    this.name = name;
    this.manager = manager;
    this.byModule = byModule;
  }

  /** Loads an adapter into a sub-manager of {@code parent} (the model's manager). */
  public static LoraAdapter load(Path dir, NDManager parent, DataType floatType)
      throws IOException {
    Path configFile = dir.resolve("adapter_config.json");
    Path weightsFile = dir.resolve("adapter_model.safetensors");
    if (!Files.isRegularFile(configFile)) {
      throw new ModelFormatException("no adapter_config.json in adapter directory " + dir);
    }
    if (!Files.isRegularFile(weightsFile)) {
      throw new ModelFormatException(
          "no adapter_model.safetensors in adapter directory "
              + dir
              + " (adapter_model.bin is not supported)");
    }
    JsonNode config = new ObjectMapper().readTree(configFile.toFile());
    String type = config.path("peft_type").asText("LORA");
    if (!type.equals("LORA")) {
      throw new ModelFormatException(configFile + ": peft_type " + type + " is not supported");
    }
    if (config.path("use_dora").asBoolean(false)) {
      throw new ModelFormatException(configFile + ": DoRA adapters are not supported");
    }
    if (config.path("fan_in_fan_out").asBoolean(false)) {
      throw new ModelFormatException(configFile + ": fan_in_fan_out adapters are not supported");
    }
    JsonNode defaultRank = config.path("r");
    JsonNode defaultAlpha = config.path("lora_alpha");
    boolean rslora = config.path("use_rslora").asBoolean(false);

    SafetensorsFile weights = SafetensorsFile.open(weightsFile);
    Map<String, NDArray[]> parts = new LinkedHashMap<>();
    NDManager manager = parent.newSubManager();
    try {
      for (String key : weights.tensors().keySet()) {
        String module;
        int slot;
        if (key.endsWith(".lora_A.weight")) {
          module = key.substring(0, key.length() - ".lora_A.weight".length());
          slot = 0;
        } else if (key.endsWith(".lora_B.weight")) {
          module = key.substring(0, key.length() - ".lora_B.weight".length());
          slot = 1;
        } else {
          throw new ModelFormatException(
              weightsFile
                  + ": tensor '"
                  + key
                  + "' is not a LoRA A/B weight (embedding LoRA, biases and modules_to_save are"
                  + " not supported)");
        }
        if (module.startsWith(PREFIX)) {
          module = module.substring(PREFIX.length());
        }
        NDArray array = weights.load(key, manager, floatType);
        parts.computeIfAbsent(module, k -> new NDArray[2])[slot] = array;
      }
      Map<String, Pair> byModule = new HashMap<>();
      for (var e : parts.entrySet()) {
        NDArray a = e.getValue()[0];
        NDArray b = e.getValue()[1];
        if (a == null || b == null) {
          throw new ModelFormatException(
              weightsFile + ": module " + e.getKey() + " lacks lora_A or lora_B");
        }
        int rank = pattern(config.path("rank_pattern"), e.getKey(), defaultRank).asInt(8);
        double alpha = pattern(config.path("alpha_pattern"), e.getKey(), defaultAlpha).asDouble(8);
        double scale = rslora ? alpha / Math.sqrt(rank) : alpha / rank;
        byModule.put(e.getKey(), new Pair(a, b, (float) scale));
      }
      return new LoraAdapter(dir.getFileName().toString(), manager, Map.copyOf(byModule));
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** PEFT's pattern keys match a module path exactly or as a dotted suffix. */
  private static JsonNode pattern(JsonNode patterns, String module, JsonNode fallback) {
    for (var it = patterns.fields(); it.hasNext(); ) {
      var e = it.next();
      if (module.equals(e.getKey()) || module.endsWith("." + e.getKey())) {
        return e.getValue();
      }
    }
    return fallback;
  }

  public String name() {
    return name;
  }

  /** The module paths this adapter changes. */
  public java.util.Set<String> modules() {
    return byModule.keySet();
  }

  Map<String, LoraDelta> deltas(float strength) {
    Map<String, LoraDelta> out = new HashMap<>();
    byModule.forEach((m, p) -> out.put(m, new LoraDelta(p.a(), p.b(), p.scale() * strength)));
    return out;
  }

  @Override
  public void close() {
    manager.close();
  }
}
