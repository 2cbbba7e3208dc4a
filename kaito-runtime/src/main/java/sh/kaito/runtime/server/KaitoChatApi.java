package sh.kaito.runtime.server;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.javalin.http.Context;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.tokenizer.ChatTemplate;

/**
 * Upstream Kaito's transformers runtime API: {@code POST /chat} with its {@code
 * UnifiedRequestModel} and {@code {"Result": text}} answer. As upstream, the model is the base
 * model with every adapter applied at its strength, and the request's {@code generate_kwargs} start
 * from upstream's Pydantic defaults (which win over the model's generation config): {@code
 * max_length} 200, {@code do_sample} true, {@code temperature} 1, {@code top_k} 10, {@code top_p}
 * 1, {@code typical_p} 1, {@code repetition_penalty} 1.
 */
final class KaitoChatApi {

  static final int MAX_RETURN_SEQUENCES = 8;
  static final int DEFAULT_MAX_LENGTH = 200;

  /** generate_kwargs we act on, and those accepted without effect here (see docs). */
  static final Set<String> GENERATE_KWARGS =
      Set.of(
          "max_length",
          "max_new_tokens",
          "min_length",
          "min_new_tokens",
          "do_sample",
          "temperature",
          "top_k",
          "top_p",
          "typical_p",
          "repetition_penalty",
          "eos_token_id",
          "stop_strings",
          "num_return_sequences",
          "seed",
          "num_beams",
          // no effect: one beam, cache always used, padding irrelevant for one sequence
          "early_stopping",
          "use_cache",
          "pad_token_id");

  /** Upstream's answer: the generated text of every returned sequence, concatenated. */
  record ChatResult(@JsonProperty("Result") String result) {}

  private final ChatServer server;

  KaitoChatApi(ChatServer server) {
    this.server = server;
  }

  void chat(Context ctx) {
    ServedModel model = server.model();
    JsonFields f = JsonFields.of(server.readJson(ctx));
    boolean hasPrompt = f.has("prompt");
    boolean hasMessages = f.has("messages");
    if (hasPrompt && hasMessages) {
      throw ApiException.badRequest("give either prompt or messages, not both", "prompt");
    }
    if (!hasPrompt && !hasMessages) {
      throw ApiException.badRequest(
          "Text generation parameter prompt required (or messages for a conversation)", "prompt");
    }
    boolean returnFullText = f.bool("return_full_text", true);
    boolean cleanUp = f.bool("clean_up_tokenization_spaces", false);
    String prefix = f.string("prefix", "");
    String longGeneration = f.string("handle_long_generation", null);
    if (longGeneration != null && !longGeneration.equals("hole")) {
      throw ApiException.badRequest(
          "'handle_long_generation' must be \"hole\" or null, got \"" + longGeneration + "\"",
          "handle_long_generation");
    }
    JsonFields kwargs = f.object("generate_kwargs");
    for (String key : kwargs.fieldNames()) {
      if (!GENERATE_KWARGS.contains(key)) {
        throw ApiException.badRequest(
            "'generate_kwargs." + key + "' is not supported by this runtime", kwargs.path(key));
      }
    }
    String prompt = hasPrompt ? f.string("prompt", null) : null;
    long[] ids;
    if (hasPrompt) {
      ids = Prompts.text(model, prefix + prompt, "prompt");
    } else {
      List<ChatTemplate.Message> messages = Prompts.messages(f, "messages");
      ids = Prompts.chat(model, messages, "messages");
    }

    Integer beams = kwargs.integer("num_beams", 1, 1, Integer.MAX_VALUE);
    if (beams != 1) {
      throw ApiException.badRequest(
          "beam search is not supported: generate_kwargs.num_beams must be 1",
          "generate_kwargs.num_beams");
    }
    Integer maxNewRequested = kwargs.integer("max_new_tokens", null, 1, Integer.MAX_VALUE);
    Integer maxLengthRequested = kwargs.integer("max_length", null, 1, Integer.MAX_VALUE);
    Integer minNewRequested = kwargs.integer("min_new_tokens", null, 0, Integer.MAX_VALUE);
    int minLength = kwargs.integer("min_length", 0, 0, Integer.MAX_VALUE);
    int sequences = kwargs.integer("num_return_sequences", 1, 1, MAX_RETURN_SEQUENCES);
    SamplingRequest sampling = sampling(model.defaults(), kwargs);

    int context = model.contextLength();
    int maxNew;
    String maxParam;
    if (maxNewRequested != null) { // HF: max_new_tokens wins over max_length
      maxNew = maxNewRequested;
      maxParam = "generate_kwargs.max_new_tokens";
    } else {
      // Upstream's default max_length (200) counts the prompt; a context below that caps it.
      int maxLength =
          maxLengthRequested != null ? maxLengthRequested : Math.min(DEFAULT_MAX_LENGTH, context);
      maxNew = maxLength - ids.length;
      maxParam = "generate_kwargs.max_length";
      if (maxNew < 1) {
        throw ApiException.badRequest(
            "the prompt is "
                + ids.length
                + " tokens, which leaves nothing to generate within max_length "
                + maxLength
                + " (prompt + new tokens); raise generate_kwargs.max_length or set"
                + " generate_kwargs.max_new_tokens",
            maxParam);
      }
    }
    if ((long) ids.length + maxNew > context) {
      if (longGeneration == null || maxNew >= context) {
        throw Prompts.contextExceeded(context, ids.length, maxNew, maxParam);
      }
      // "hole": drop the start of the prompt so that prompt + new tokens fit (HF's pipeline).
      ids = Arrays.copyOfRange(ids, ids.length - (context - maxNew), ids.length);
    }
    int minNew = minNewRequested != null ? minNewRequested : Math.max(0, minLength - ids.length);
    Adapters adapters = model.allAdapters();
    List<GenerationQueue.Job> jobs = new ArrayList<>();
    for (int i = 0; i < sequences; i++) {
      jobs.add(
          new GenerationQueue.Job(
              model.name(), ids, sampling.withMinNewTokens(minNew).build(maxNew, i), adapters));
    }
    List<GenerationQueue.Completion> done =
        server.queue().run(model, jobs, null, server.clientGone(ctx));
    StringBuilder result = new StringBuilder();
    for (GenerationQueue.Completion c : done) {
      String text = cleanUp ? cleanUpTokenizationSpaces(c.text()) : c.text();
      result.append(hasPrompt && returnFullText ? prompt + text : text);
    }
    server.json(ctx, 200, new ChatResult(result.toString()));
  }

  private static SamplingRequest sampling(SamplingParams defaults, JsonFields k) {
    boolean doSample = k.bool("do_sample", true);
    double temperature = k.positive("temperature", 1.0, 0, Double.MAX_VALUE);
    int topK = k.integer("top_k", 10, 0, Integer.MAX_VALUE);
    double topP = k.positive("top_p", 1.0, 0, 1);
    double typicalP = k.positive("typical_p", 1.0, 0, 1);
    double repetition = k.positive("repetition_penalty", 1.0, 0, Double.MAX_VALUE);
    List<Long> eos = k.longs("eos_token_id");
    List<String> stops = k.strings("stop_strings", 16);
    Long seed = k.longValue("seed", null);
    return new SamplingRequest(
        doSample,
        temperature,
        topK,
        topP,
        typicalP,
        repetition,
        0,
        "generate_kwargs.min_new_tokens",
        stops,
        eos == null ? defaults.eosTokenIds() : new LinkedHashSet<>(eos),
        seed);
  }

  /** HF's {@code clean_up_tokenization}: no space before punctuation and English contractions. */
  static String cleanUpTokenizationSpaces(String text) {
    return text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re");
  }
}
