package sh.kaito.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;

/**
 * The decoder families the engine runs. They share one forward pass; what differs is data: which
 * projections are fused in the checkpoint, which carry biases, and where sliding-window attention
 * applies (the defaults follow HF transformers' config classes).
 */
public enum Architecture {
  LLAMA("LlamaForCausalLM", false) {
    @Override
    boolean qkvBias(JsonNode c) {
      return c.path("attention_bias").asBoolean(false);
    }

    @Override
    boolean outputBias(JsonNode c) {
      return c.path("attention_bias").asBoolean(false);
    }
  },
  MISTRAL("MistralForCausalLM", false) {
    @Override
    int[] slidingWindows(JsonNode c, int layers) {
      return uniformWindow(
          c.hasNonNull("sliding_window") ? c.get("sliding_window").asInt() : 0, layers);
    }
  },
  QWEN2("Qwen2ForCausalLM", false) {
    @Override
    boolean qkvBias(JsonNode c) {
      return true;
    }

    @Override
    int[] slidingWindows(JsonNode c, int layers) {
      int window = c.hasNonNull("sliding_window") ? c.get("sliding_window").asInt() : 0;
      int[] windows = new int[layers];
      JsonNode types = c.path("layer_types");
      for (int i = 0; i < layers; i++) {
        boolean sliding =
            types.isArray() && types.size() == layers
                ? types.get(i).asText().equals("sliding_attention")
                : c.path("use_sliding_window").asBoolean(false)
                    && i >= c.path("max_window_layers").asInt(28);
        windows[i] = sliding ? window : 0;
      }
      return windows;
    }
  },
  /** Fused {@code qkv_proj} and {@code gate_up_proj}; LongRoPE lives in {@link RopeScaling}. */
  PHI3("Phi3ForCausalLM", true) {
    @Override
    int[] slidingWindows(JsonNode c, int layers) {
      return uniformWindow(
          c.hasNonNull("sliding_window") ? c.get("sliding_window").asInt() : 0, layers);
    }
  };

  private final String hfName;
  private final boolean fusedProjections;

  Architecture(String hfName, boolean fusedProjections) {
    this.hfName = hfName;
    this.fusedProjections = fusedProjections;
  }

  public String hfName() {
    return hfName;
  }

  /** True when the checkpoint stores {@code qkv_proj} and {@code gate_up_proj} fused. */
  public boolean fusedProjections() {
    return fusedProjections;
  }

  boolean qkvBias(JsonNode c) {
    return false;
  }

  boolean outputBias(JsonNode c) {
    return false;
  }

  boolean tiesEmbeddingsByDefault() {
    return false;
  }

  int[] slidingWindows(JsonNode c, int layers) {
    return new int[layers];
  }

  private static int[] uniformWindow(int window, int layers) {
    int[] w = new int[layers];
    Arrays.fill(w, window);
    return w;
  }

  static Architecture fromHfName(String name, String source) throws ModelFormatException {
    for (Architecture a : values()) {
      if (a.hfName.equals(name)) {
        return a;
      }
    }
    throw new ModelFormatException(
        source
            + ": architecture '"
            + name
            + "' is not supported (supported: "
            + Arrays.stream(values()).map(Architecture::hfName).toList()
            + ")");
  }
}
