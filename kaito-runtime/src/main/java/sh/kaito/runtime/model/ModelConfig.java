package sh.kaito.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of a Hugging Face {@code config.json} the engine needs, with the defaults HF
 * transformers applies when a field is absent.
 *
 * @param slidingWindowPerLayer the attention window of each layer, 0 for full attention
 */
public record ModelConfig(
    Architecture architecture,
    int hiddenSize,
    int intermediateSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    int vocabSize,
    double rmsNormEps,
    RopeScaling rope,
    int rotaryDim,
    int[] slidingWindowPerLayer,
    boolean tieWordEmbeddings,
    boolean attentionBias,
    boolean outputBias,
    boolean mlpBias,
    List<Long> eosTokenIds,
    Long bosTokenId) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Reads {@code config.json} from a model directory. */
  public static ModelConfig load(Path modelDir) throws IOException {
    Path file = modelDir.resolve("config.json");
    if (!Files.isRegularFile(file)) {
      throw new ModelFormatException("no config.json in model directory " + modelDir);
    }
    JsonNode c;
    try {
      c = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new ModelFormatException(file + " is not valid JSON", e);
    }
    return parse(c, file.toString());
  }

  static ModelConfig parse(JsonNode c, String source) throws ModelFormatException {
    JsonNode archs = c.path("architectures");
    String archName = archs.isArray() && archs.size() > 0 ? archs.get(0).asText() : "";
    Architecture arch = Architecture.fromHfName(archName, source);
    int hidden = required(c, "hidden_size", source);
    int heads = required(c, "num_attention_heads", source);
    int kvHeads = c.path("num_key_value_heads").asInt(heads);
    int layers = required(c, "num_hidden_layers", source);
    int headDim = c.hasNonNull("head_dim") ? c.get("head_dim").asInt() : hidden / heads;
    if (heads % kvHeads != 0) {
      throw new ModelFormatException(
          source
              + ": num_attention_heads "
              + heads
              + " is not a multiple of num_key_value_heads "
              + kvHeads);
    }
    String act = c.path("hidden_act").asText("silu");
    if (!act.equals("silu") && !act.equals("swish")) {
      throw new ModelFormatException(
          source + ": hidden_act '" + act + "' is not supported (silu only)");
    }
    double partialRotary = c.path("partial_rotary_factor").asDouble(1.0);
    int rotaryDim = (int) (headDim * partialRotary);
    int maxPos = c.path("max_position_embeddings").asInt(4096);
    RopeScaling rope =
        RopeScaling.parse(
            c.path("rope_scaling"),
            c.path("rope_theta").asDouble(10000.0),
            rotaryDim,
            maxPos,
            c.hasNonNull("original_max_position_embeddings")
                ? c.get("original_max_position_embeddings").asInt()
                : null,
            source);
    return new ModelConfig(
        arch,
        hidden,
        required(c, "intermediate_size", source),
        layers,
        heads,
        kvHeads,
        headDim,
        required(c, "vocab_size", source),
        c.path("rms_norm_eps").asDouble(1e-6),
        rope,
        rotaryDim,
        arch.slidingWindows(c, layers),
        c.path("tie_word_embeddings").asBoolean(arch.tiesEmbeddingsByDefault()),
        arch.qkvBias(c),
        arch.outputBias(c),
        c.path("mlp_bias").asBoolean(false),
        tokenIds(c.get("eos_token_id")),
        c.hasNonNull("bos_token_id") ? c.get("bos_token_id").asLong() : null);
  }

  static List<Long> tokenIds(JsonNode node) {
    List<Long> ids = new ArrayList<>();
    if (node == null || node.isNull()) {
      return ids;
    }
    if (node.isArray()) {
      node.forEach(n -> ids.add(n.asLong()));
    } else {
      ids.add(node.asLong());
    }
    return List.copyOf(ids);
  }

  private static int required(JsonNode c, String field, String source) throws ModelFormatException {
    if (!c.hasNonNull(field) || !c.get(field).canConvertToInt()) {
      throw new ModelFormatException(source + ": missing or non-integer field '" + field + "'");
    }
    return c.get(field).asInt();
  }

  /** Query heads that share one key/value head (grouped-query attention). */
  public int kvGroups() {
    return numHeads / numKvHeads;
  }
}
