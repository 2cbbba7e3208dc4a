package sh.kaito.runtime.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import sh.kaito.runtime.model.ModelFormatException;

/**
 * A model's {@code generation_config.json} as a {@link SamplingParams.Builder} that a request then
 * overrides. Fields absent from the file take HF {@code GenerationConfig}'s defaults (note top_k
 * 50, which applies once sampling is on); EOS ids fall back to {@code config.json}'s.
 */
public final class GenerationDefaults {

  private GenerationDefaults() {}

  public static SamplingParams.Builder load(Path modelDir, List<Long> configEosTokenIds)
      throws IOException {
    Path file = modelDir.resolve("generation_config.json");
    JsonNode g = new ObjectMapper().createObjectNode();
    if (Files.isRegularFile(file)) {
      try {
        g = new ObjectMapper().readTree(file.toFile());
      } catch (IOException e) {
        throw new ModelFormatException(file + " is not valid JSON", e);
      }
    }
    return fromJson(g, configEosTokenIds);
  }

  static SamplingParams.Builder fromJson(JsonNode g, List<Long> configEosTokenIds) {
    Set<Long> eos = new LinkedHashSet<>();
    JsonNode e = g.get("eos_token_id");
    if (e != null && e.isArray()) {
      e.forEach(n -> eos.add(n.asLong()));
    } else if (e != null && !e.isNull()) {
      eos.add(e.asLong());
    } else {
      eos.addAll(configEosTokenIds);
    }
    SamplingParams.Builder b =
        SamplingParams.builder()
            .eosTokenIds(eos)
            .typicalP(g.path("typical_p").asDouble(1.0))
            .repetitionPenalty(g.path("repetition_penalty").asDouble(1.0))
            .minNewTokens(g.path("min_new_tokens").asInt(0));
    if (g.hasNonNull("max_new_tokens")) {
      b.maxNewTokens(g.get("max_new_tokens").asInt());
    }
    if (g.path("do_sample").asBoolean(false)) {
      b.sample(
          g.path("temperature").asDouble(1.0),
          g.path("top_k").asInt(50),
          g.path("top_p").asDouble(1.0),
          0L);
    }
    return b;
  }
}
