package sh.kaito.runtime.server;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import io.javalin.http.Context;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import sh.kaito.runtime.generate.FinishReason;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.tokenizer.ChatTemplate;

/**
 * The OpenAI-compatible API, as vLLM serves it: {@code /v1/models} lists the base model and one
 * entry per adapter, and a request's {@code model} picks the base model (no adapter) or one adapter
 * at its configured strength. Non-standard fields taken from vLLM: {@code top_k}, {@code
 * min_tokens}, {@code repetition_penalty}, {@code ignore_eos}, {@code return_token_ids}.
 */
final class OpenAiApi {

  static final int MAX_CHOICES = 8;
  static final int MAX_STOPS = 4;

  private final ChatServer server;

  OpenAiApi(ChatServer server) {
    this.server = server;
  }

  // ---- response types (snake_case on the wire) ----

  record ModelCard(
      String id,
      String object,
      long created,
      String ownedBy,
      String root,
      String parent,
      int maxModelLen) {}

  record ModelList(String object, List<ModelCard> data) {}

  record Usage(int promptTokens, int completionTokens, int totalTokens) {
    static Usage of(int prompt, List<GenerationQueue.Completion> done) {
      int completion = done.stream().mapToInt(c -> c.tokens().length).sum();
      return new Usage(prompt, completion, prompt + completion);
    }
  }

  record ChatMessage(String role, String content) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  record Delta(String role, String content) {}

  record ChatChoice(
      int index,
      ChatMessage message,
      Object logprobs,
      String finishReason,
      @JsonInclude(JsonInclude.Include.NON_NULL) long[] tokenIds) {}

  record ChatCompletion(
      String id,
      String object,
      long created,
      String model,
      List<ChatChoice> choices,
      Usage usage,
      @JsonInclude(JsonInclude.Include.NON_NULL) long[] promptTokenIds) {}

  record ChunkChoice(int index, Delta delta, Object logprobs, String finishReason) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  record ChatChunk(
      String id,
      String object,
      long created,
      String model,
      List<ChunkChoice> choices,
      Usage usage) {}

  record TextChoice(
      int index,
      String text,
      Object logprobs,
      String finishReason,
      @JsonInclude(JsonInclude.Include.NON_NULL) long[] tokenIds,
      @JsonInclude(JsonInclude.Include.NON_NULL) long[] promptTokenIds) {}

  record TextCompletion(
      String id,
      String object,
      long created,
      String model,
      List<TextChoice> choices,
      Usage usage) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  record TextChunk(
      String id,
      String object,
      long created,
      String model,
      List<TextChoice> choices,
      Usage usage) {}

  // ---- handlers ----

  void models(Context ctx) {
    ServedModel model = server.model();
    long created = server.startedAt();
    List<ModelCard> cards = new ArrayList<>();
    cards.add(
        new ModelCard(
            model.name(),
            "model",
            created,
            "kaito",
            model.dir().toString(),
            null,
            model.contextLength()));
    for (ServedModel.ServedAdapter a : model.adapterList()) {
      cards.add(
          new ModelCard(
              a.name(),
              "model",
              created,
              "kaito",
              a.dir().toString(),
              model.name(),
              model.contextLength()));
    }
    server.json(ctx, 200, new ModelList("list", cards));
  }

  void chatCompletions(Context ctx) {
    ServedModel model = server.model();
    JsonFields f = JsonFields.of(server.readJson(ctx));
    Target target = target(model, f);
    List<ChatTemplate.Message> messages = Prompts.messages(f, "messages");
    Options o = options(model, f, true);
    long[] prompt = Prompts.chat(model, messages, "messages");
    int maxNew =
        Prompts.maxNewTokens(
            model, prompt.length, o.maxTokens(), o.maxTokens() == null ? "messages" : o.maxParam());
    List<GenerationQueue.Job> jobs = jobs(target, prompt, o, maxNew);
    String id = "chatcmpl-" + server.requestId(ctx);
    long created = System.currentTimeMillis() / 1000;
    if (!o.stream()) {
      List<GenerationQueue.Completion> done =
          server.queue().run(model, jobs, null, server.clientGone(ctx));
      List<ChatChoice> choices = new ArrayList<>();
      for (int i = 0; i < done.size(); i++) {
        GenerationQueue.Completion c = done.get(i);
        choices.add(
            new ChatChoice(
                i,
                new ChatMessage("assistant", c.text()),
                null,
                finish(c.finishReason()),
                o.returnTokenIds() ? c.tokens() : null));
      }
      server.json(
          ctx,
          200,
          new ChatCompletion(
              id,
              "chat.completion",
              created,
              target.name(),
              choices,
              Usage.of(prompt.length, done),
              o.returnTokenIds() ? prompt : null));
      return;
    }
    SseStream sse = new SseStream(ctx, ChatServer.JSON);
    List<GenerationQueue.Completion> streamed =
        stream(
            model,
            jobs,
            sse,
            new GenerationQueue.StreamListener() {
              @Override
              public void start(int choice) {
                sse.send(chatChunk(id, created, target, choice, new Delta("assistant", ""), null));
              }

              @Override
              public void delta(int choice, String text) {
                sse.send(chatChunk(id, created, target, choice, new Delta(null, text), null));
              }

              @Override
              public void end(int choice, GenerationQueue.Completion c) {
                sse.send(
                    chatChunk(
                        id,
                        created,
                        target,
                        choice,
                        new Delta(null, null),
                        finish(c.finishReason())));
              }
            });
    if (o.includeUsage()) {
      sse.send(
          new ChatChunk(
              id,
              "chat.completion.chunk",
              created,
              target.name(),
              List.of(),
              Usage.of(prompt.length, streamed)));
    }
    sse.done();
  }

  void completions(Context ctx) {
    ServedModel model = server.model();
    JsonFields f = JsonFields.of(server.readJson(ctx));
    Target target = target(model, f);
    List<long[]> prompts = completionPrompts(model, f);
    Options o = options(model, f, false);
    if (f.bool("echo", false)) {
      throw ApiException.badRequest("'echo' is not supported", "echo");
    }
    if (f.has("suffix")) {
      throw ApiException.badRequest("'suffix' is not supported", "suffix");
    }
    Integer bestOf = f.integer("best_of", null, 1, MAX_CHOICES);
    if (bestOf != null && bestOf != o.n()) {
      throw ApiException.badRequest("'best_of' must equal 'n' (no ranking is done)", "best_of");
    }
    List<GenerationQueue.Job> jobs = new ArrayList<>();
    int promptTokens = 0;
    for (long[] prompt : prompts) {
      int maxNew =
          Prompts.maxNewTokens(
              model, prompt.length, o.maxTokens(), o.maxTokens() == null ? "prompt" : "max_tokens");
      jobs.addAll(jobs(target, prompt, o, maxNew));
      promptTokens += prompt.length;
    }
    String id = "cmpl-" + server.requestId(ctx);
    long created = System.currentTimeMillis() / 1000;
    int n = o.n();
    if (!o.stream()) {
      List<GenerationQueue.Completion> done =
          server.queue().run(model, jobs, null, server.clientGone(ctx));
      List<TextChoice> choices = new ArrayList<>();
      for (int i = 0; i < done.size(); i++) {
        GenerationQueue.Completion c = done.get(i);
        choices.add(
            new TextChoice(
                i,
                c.text(),
                null,
                finish(c.finishReason()),
                o.returnTokenIds() ? c.tokens() : null,
                o.returnTokenIds() ? prompts.get(i / n) : null));
      }
      server.json(
          ctx,
          200,
          new TextCompletion(
              id,
              "text_completion",
              created,
              target.name(),
              choices,
              Usage.of(promptTokens, done)));
      return;
    }
    SseStream sse = new SseStream(ctx, ChatServer.JSON);
    List<GenerationQueue.Completion> streamed =
        stream(
            model,
            jobs,
            sse,
            new GenerationQueue.StreamListener() {
              @Override
              public void start(int choice) {}

              @Override
              public void delta(int choice, String text) {
                sse.send(textChunk(id, created, target, choice, text, null));
              }

              @Override
              public void end(int choice, GenerationQueue.Completion c) {
                sse.send(textChunk(id, created, target, choice, "", finish(c.finishReason())));
              }
            });
    if (o.includeUsage()) {
      sse.send(
          new TextChunk(
              id,
              "text_completion",
              created,
              target.name(),
              List.of(),
              Usage.of(promptTokens, streamed)));
    }
    sse.done();
  }

  /**
   * Runs a streamed request. A failure after the stream started cannot change the status any more:
   * it becomes an {@code {"error": ...}} event before {@code [DONE]}, as vLLM does.
   */
  private List<GenerationQueue.Completion> stream(
      ServedModel model,
      List<GenerationQueue.Job> jobs,
      SseStream sse,
      GenerationQueue.StreamListener listener) {
    try {
      return server.queue().run(model, jobs, listener, server.clientGone(sse.context()));
    } catch (GenerationQueue.GenerationFailedException e) {
      if (!sse.started()) {
        throw e;
      }
      server.logGenerationFailure(e);
      sse.send(ChatServer.openAiError(ChatServer.GENERATION_FAILED));
      sse.done();
      throw new ChatServer.ResponseAlreadySent();
    }
  }

  private static ChatChunk chatChunk(
      String id, long created, Target target, int choice, Delta delta, String finishReason) {
    return new ChatChunk(
        id,
        "chat.completion.chunk",
        created,
        target.name(),
        List.of(new ChunkChoice(choice, delta, null, finishReason)),
        null);
  }

  private static TextChunk textChunk(
      String id, long created, Target target, int choice, String text, String finishReason) {
    return new TextChunk(
        id,
        "text_completion",
        created,
        target.name(),
        List.of(new TextChoice(choice, text, null, finishReason, null, null)),
        null);
  }

  // ---- request parsing ----

  /** The model a request names: the base model (no adapter) or one adapter. */
  record Target(String name, Adapters adapters) {}

  static Target target(ServedModel model, JsonFields f) {
    String name = f.string("model", model.name());
    if (name.equals(model.name())) {
      return new Target(name, Adapters.NONE);
    }
    return model
        .adapter(name)
        .map(a -> new Target(name, Adapters.of(a.adapter(), a.strength())))
        .orElseThrow(
            () -> {
              List<String> names = new ArrayList<>(List.of(model.name()));
              names.addAll(model.adapters().keySet());
              return new ApiException(
                  404,
                  "invalid_request_error",
                  "The model `" + name + "` does not exist. Served models: " + names,
                  "model",
                  "model_not_found");
            });
  }

  record Options(
      SamplingRequest sampling,
      Integer maxTokens,
      String maxParam,
      int n,
      boolean stream,
      boolean includeUsage,
      boolean returnTokenIds) {}

  /** The options shared by both endpoints; unsupported OpenAI features are refused by name. */
  static Options options(ServedModel model, JsonFields f, boolean chat) {
    var defaults = model.defaults();
    Double temperature = f.number("temperature", null, 0, 2);
    boolean doSample;
    double t;
    if (temperature == null) { // vLLM: the model's generation_config, else 1.0
      doSample = true;
      t = defaults.doSample() ? defaults.temperature() : 1.0;
    } else {
      doSample = temperature >= 1e-5; // vLLM's threshold for greedy
      t = doSample ? temperature : 1.0;
    }
    double topP = f.positive("top_p", defaults.doSample() ? defaults.topP() : 1.0, 0, 1);
    int topK = f.integer("top_k", defaults.doSample() ? defaults.topK() : 0, -1, Integer.MAX_VALUE);
    double repetition =
        f.positive("repetition_penalty", defaults.repetitionPenalty(), 0, Double.MAX_VALUE);
    int minTokens = f.integer("min_tokens", 0, 0, Integer.MAX_VALUE);
    for (String penalty : List.of("presence_penalty", "frequency_penalty")) {
      Double p = f.number(penalty, 0.0, -2, 2);
      if (p != 0) {
        throw ApiException.badRequest(
            "'" + penalty + "' is not supported (only 0); use repetition_penalty", penalty);
      }
    }
    JsonNode bias = f.value("logit_bias");
    if (bias != null && !(bias.isObject() && bias.isEmpty())) {
      throw ApiException.badRequest("'logit_bias' is not supported", "logit_bias");
    }
    if (chat) {
      if (f.bool("logprobs", false) || f.has("top_logprobs")) {
        throw ApiException.badRequest("'logprobs' is not supported", "logprobs");
      }
      JsonNode tools = f.value("tools");
      if (tools != null && !(tools.isArray() && tools.isEmpty())) {
        throw ApiException.badRequest("'tools' (function calling) is not supported", "tools");
      }
      JsonNode format = f.value("response_format");
      if (format != null && !format.path("type").asText("").equals("text")) {
        throw ApiException.badRequest(
            "'response_format' other than {\"type\": \"text\"} is not supported",
            "response_format");
      }
    } else if (f.has("logprobs")) {
      throw ApiException.badRequest("'logprobs' is not supported", "logprobs");
    }
    String maxParam =
        chat && f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    Integer maxTokens = f.integer(maxParam, null, 1, Integer.MAX_VALUE);
    int n = f.integer("n", 1, 1, MAX_CHOICES);
    boolean stream = f.bool("stream", false);
    JsonFields streamOptions = f.object("stream_options");
    if (f.has("stream_options") && !stream) {
      throw ApiException.badRequest(
          "'stream_options' can only be given with \"stream\": true", "stream_options");
    }
    boolean includeUsage = streamOptions.bool("include_usage", false);
    List<String> stops = f.strings("stop", MAX_STOPS);
    Long seed = f.longValue("seed", null);
    Set<Long> eos =
        f.bool("ignore_eos", false) ? Set.of() : new LinkedHashSet<>(defaults.eosTokenIds());
    boolean returnTokenIds = f.bool("return_token_ids", false);
    SamplingRequest sampling =
        new SamplingRequest(
            doSample,
            t,
            Math.max(topK, 0),
            topP,
            defaults.typicalP(),
            repetition,
            minTokens,
            "min_tokens",
            stops,
            eos,
            seed);
    return new Options(sampling, maxTokens, maxParam, n, stream, includeUsage, returnTokenIds);
  }

  /** {@code prompt}: a string, a list of strings, a list of token ids, or a list of such lists. */
  private static List<long[]> completionPrompts(ServedModel model, JsonFields f) {
    JsonNode p = f.value("prompt");
    if (p == null) {
      throw ApiException.badRequest("'prompt' is required", "prompt");
    }
    List<long[]> out = new ArrayList<>();
    if (p.isTextual()) {
      out.add(Prompts.text(model, p.asText(), "prompt"));
    } else if (p.isArray() && !p.isEmpty() && p.get(0).isIntegralNumber()) {
      out.add(Prompts.ids(model, p, "prompt"));
    } else if (p.isArray() && !p.isEmpty()) {
      for (int i = 0; i < p.size(); i++) {
        JsonNode item = p.get(i);
        String at = "prompt[" + i + "]";
        if (item.isTextual()) {
          out.add(Prompts.text(model, item.asText(), at));
        } else if (item.isArray()) {
          out.add(Prompts.ids(model, item, at));
        } else {
          throw ApiException.badRequest(
              "'" + at + "' must be a string or a list of token ids, got " + JsonFields.kind(item),
              "prompt");
        }
      }
    } else {
      throw ApiException.badRequest(
          "'prompt' must be a string, a list of strings or a list of token ids, got "
              + (p.isArray() ? "an empty list" : JsonFields.kind(p)),
          "prompt");
    }
    if (out.size() * (long) f.integer("n", 1, 1, MAX_CHOICES) > MAX_CHOICES) {
      throw ApiException.badRequest(
          "at most " + MAX_CHOICES + " sequences per request (prompts x n)", "prompt");
    }
    return out;
  }

  private static List<GenerationQueue.Job> jobs(
      Target target, long[] prompt, Options o, int maxNew) {
    List<GenerationQueue.Job> jobs = new ArrayList<>();
    for (int i = 0; i < o.n(); i++) {
      jobs.add(
          new GenerationQueue.Job(
              target.name(), prompt, o.sampling().build(maxNew, i), target.adapters()));
    }
    return jobs;
  }

  static String finish(FinishReason reason) {
    return reason == FinishReason.LENGTH ? "length" : "stop";
  }
}
