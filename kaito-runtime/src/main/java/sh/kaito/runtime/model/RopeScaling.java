package sh.kaito.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Rotary position embedding frequencies, following HF transformers' {@code modeling_rope_utils}
 * (computed in fp32 like there, so logits agree to rounding).
 */
public sealed interface RopeScaling {

  /**
   * The inverse frequencies ({@code rotaryDim / 2} of them) for a forward call whose largest
   * position is {@code maxPosition}. Only LongRoPE depends on it: like HF, it switches to the long
   * factors for a whole call once that call reaches past the original context.
   */
  float[] inverseFrequencies(long maxPosition);

  /**
   * True when keys cached for {@code cached} tokens were rotated with frequencies that no longer
   * apply once the sequence has {@code total} tokens, so the whole sequence must be run again. HF's
   * Phi-3 does this once, when a sequence first grows past the original context.
   */
  default boolean invalidatesCache(long cached, long total) {
    return false;
  }

  /** The factor cos and sin are multiplied by (LongRoPE's attention factor; 1 otherwise). */
  default float attentionScaling() {
    return 1f;
  }

  /** Plain RoPE: {@code 1 / theta^(2i/dim)}. */
  record Default(double theta, int dim) implements RopeScaling {
    @Override
    public float[] inverseFrequencies(long maxPosition) {
      return base(theta, dim);
    }
  }

  /** Position interpolation: every frequency divided by {@code factor}. */
  record Linear(double theta, int dim, double factor) implements RopeScaling {
    @Override
    public float[] inverseFrequencies(long maxPosition) {
      float[] f = base(theta, dim);
      for (int i = 0; i < f.length; i++) {
        f[i] = f[i] / (float) factor;
      }
      return f;
    }
  }

  /** Llama 3.1's wavelength-banded scaling. */
  record Llama3(
      double theta,
      int dim,
      double factor,
      double lowFreqFactor,
      double highFreqFactor,
      int originalMaxPosition)
      implements RopeScaling {
    @Override
    public float[] inverseFrequencies(long maxPosition) {
      float[] f = base(theta, dim);
      float lowFreqWavelen = (float) (originalMaxPosition / lowFreqFactor);
      float highFreqWavelen = (float) (originalMaxPosition / highFreqFactor);
      for (int i = 0; i < f.length; i++) {
        float wavelen = (float) (2 * Math.PI) / f[i];
        float scaled = wavelen > lowFreqWavelen ? f[i] / (float) factor : f[i];
        boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
        if (medium) {
          float smooth =
              (float)
                  ((originalMaxPosition / wavelen - lowFreqFactor)
                      / (highFreqFactor - lowFreqFactor));
          scaled = (1 - smooth) * scaled / (float) factor + smooth * scaled;
        }
        f[i] = scaled;
      }
      return f;
    }
  }

  /** Phi-3's LongRoPE ("su"): per-frequency short and long factors and an attention factor. */
  record LongRope(
      double theta,
      int dim,
      float[] shortFactor,
      float[] longFactor,
      int originalMaxPosition,
      float attentionFactor)
      implements RopeScaling {
    @Override
    public float[] inverseFrequencies(long maxPosition) {
      float[] ext = maxPosition + 1 > originalMaxPosition ? longFactor : shortFactor;
      float[] f = new float[dim / 2];
      for (int i = 0; i < f.length; i++) {
        float exponent = (float) (2 * i) / dim;
        f[i] = 1f / (ext[i] * (float) Math.pow(theta, exponent));
      }
      return f;
    }

    @Override
    public boolean invalidatesCache(long cached, long total) {
      return cached > 0 && cached <= originalMaxPosition && total >= originalMaxPosition + 1;
    }

    @Override
    public float attentionScaling() {
      return attentionFactor;
    }
  }

  private static float[] base(double theta, int dim) {
    float[] f = new float[dim / 2];
    for (int i = 0; i < f.length; i++) {
      float exponent = (float) (2 * i) / dim;
      f[i] = 1f / (float) Math.pow(theta, exponent);
    }
    return f;
  }

  /** Parses {@code rope_scaling} (may be missing or null) as HF transformers does. */
  static RopeScaling parse(
      JsonNode scaling,
      double theta,
      int dim,
      int maxPositionEmbeddings,
      Integer originalMaxPositionEmbeddings,
      String source)
      throws ModelFormatException {
    if (scaling == null || scaling.isNull() || scaling.isMissingNode()) {
      return new Default(theta, dim);
    }
    String type = scaling.path("rope_type").asText(scaling.path("type").asText("default"));
    switch (type) {
      case "default":
        return new Default(theta, dim);
      case "linear":
        return new Linear(theta, dim, scaling.path("factor").asDouble(1.0));
      case "llama3":
        return new Llama3(
            theta,
            dim,
            scaling.path("factor").asDouble(),
            scaling.path("low_freq_factor").asDouble(),
            scaling.path("high_freq_factor").asDouble(),
            scaling.path("original_max_position_embeddings").asInt());
      case "longrope":
      case "su":
        {
          float[] shortF = floats(scaling.get("short_factor"), dim / 2, "short_factor", source);
          float[] longF = floats(scaling.get("long_factor"), dim / 2, "long_factor", source);
          double factor = scaling.path("factor").asDouble(1.0);
          int originalMax;
          if (originalMaxPositionEmbeddings != null) {
            originalMax = originalMaxPositionEmbeddings;
            factor = (double) maxPositionEmbeddings / originalMaxPositionEmbeddings;
          } else {
            originalMax = maxPositionEmbeddings;
          }
          double attention;
          if (scaling.hasNonNull("attention_factor")) {
            attention = scaling.get("attention_factor").asDouble();
          } else if (factor <= 1.0) {
            attention = 1.0;
          } else {
            attention = Math.sqrt(1 + Math.log(factor) / Math.log(originalMax));
          }
          return new LongRope(theta, dim, shortF, longF, originalMax, (float) attention);
        }
      default:
        throw new ModelFormatException(
            source
                + ": rope_scaling type '"
                + type
                + "' is not supported (supported: default, linear, llama3, longrope/su)");
    }
  }

  private static float[] floats(JsonNode node, int expected, String field, String source)
      throws ModelFormatException {
    if (node == null || !node.isArray() || node.size() != expected) {
      throw new ModelFormatException(
          source + ": rope_scaling." + field + " must be a list of " + expected + " numbers");
    }
    float[] f = new float[expected];
    for (int i = 0; i < expected; i++) {
      f[i] = (float) node.get(i).asDouble();
    }
    return f;
  }
}
