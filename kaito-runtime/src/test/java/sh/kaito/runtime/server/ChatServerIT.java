package sh.kaito.runtime.server;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.runtime.generate.BatchEngine;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.tokenizer.ChatTemplate;

/**
 * The runtime server on a real port (127.0.0.1), over a tiny random Llama written in Java and
 * loaded into libtorch, called with java.net.http. Greedy answers are compared token for token with
 * the engine's Generator called directly on the same prompt ids.
 */
class ChatServerIT {

  static final int CONTEXT = 96;
  static final Set<Long> EOS = Set.of(TinyModels.EOS, TinyModels.END);
  static final float BETA_STRENGTH = 0.5f;

  @TempDir static Path tmp;
  static ServedModel model;
  static ChatServer server;
  static ServerClient client;

  @BeforeAll
  static void start() throws Exception {
    model =
        ServedModel.load(TinyModels.servedWithAdapters(tmp, CONTEXT, BETA_STRENGTH), Device.cpu());
    server = started(CompletableFuture.completedFuture(model), 4);
    client = new ServerClient(server.port());
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    if (model != null) {
      model.close();
    }
  }

  static ChatServer started(CompletableFuture<ServedModel> m, int queue) {
    return ChatServer.create(
            m,
            ServerConfig.of("127.0.0.1", 0).withQueueCapacity(queue),
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
        .start();
  }

  /** The engine called directly: greedy, the model's EOS ids. */
  static Generation direct(long[] prompt, int maxNew, Adapters adapters) {
    return model.engine().generate(prompt, SamplingParams.greedy(maxNew, EOS), adapters, t -> {});
  }

  /** The served model whose engine runs each step through {@code hook}. */
  static ServedModel withStep(HookedEngine.StepHook hook) {
    return model.withEngine(new HookedEngine(model.engine(), hook));
  }

  static String text(long[] tokens) {
    return model.tokenizer().decode(tokens, true);
  }

  static long[] longs(JsonNode array) {
    long[] out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asLong();
    }
    return out;
  }

  static final String CHAT =
      """
      {"model": "tiny", "messages": [{"role": "system", "content": "Be brief."},
       {"role": "user", "content": "Tell me a joke about GPUs, s'il vous plaît."}],
       "temperature": 0, "max_tokens": 24, "return_token_ids": true}
      """;

  static List<ChatTemplate.Message> chatMessages() {
    return List.of(
        new ChatTemplate.Message("system", "Be brief."),
        new ChatTemplate.Message("user", "Tell me a joke about GPUs, s'il vous plaît."));
  }

  @Test
  void healthIsUnavailableUntilTheModelIsLoaded() throws Exception {
    CompletableFuture<ServedModel> pending = new CompletableFuture<>();
    try (ChatServer loading = started(pending, 4)) {
      ServerClient c = new ServerClient(loading.port());
      ServerClient.Reply health = c.get("/health");
      assertThat(health.status()).isEqualTo(503);
      assertThat(health.json().path("detail").asText()).isEqualTo("Model not initialized");
      ServerClient.Reply chat = c.post("/v1/chat/completions", CHAT);
      assertThat(chat.status()).isEqualTo(503);
      assertThat(chat.json().path("error").path("message").asText())
          .isEqualTo("Model not initialized");
      assertThat(c.post("/chat", "{\"prompt\": \"hi\"}").json().path("detail").asText())
          .isEqualTo("Model not initialized");

      pending.complete(model);
      health = c.get("/health");
      assertThat(health.status()).isEqualTo(200);
      assertThat(health.json().path("status").asText()).isEqualTo("Healthy");
      assertThat(c.post("/v1/chat/completions", CHAT).status()).isEqualTo(200);
    }
  }

  @Test
  void chatCompletionIsTheGeneratorsGreedyOutput() throws Exception {
    long[] prompt = model.tokenizer().encodeChat(chatMessages(), true);
    Generation expected = direct(prompt, 24, Adapters.NONE);

    ServerClient.Reply r = client.post("/v1/chat/completions", CHAT);
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    JsonNode json = r.json();
    assertThat(json.path("object").asText()).isEqualTo("chat.completion");
    assertThat(json.path("model").asText()).isEqualTo("tiny");
    assertThat(json.path("id").asText()).startsWith("chatcmpl-");
    JsonNode choice = json.path("choices").get(0);
    assertThat(longs(json.path("prompt_token_ids"))).containsExactly(prompt);
    assertThat(longs(choice.path("token_ids"))).containsExactly(expected.tokens());
    assertThat(choice.path("message").path("role").asText()).isEqualTo("assistant");
    assertThat(choice.path("message").path("content").asText()).isEqualTo(text(expected.tokens()));
    assertThat(choice.path("finish_reason").asText())
        .isEqualTo(OpenAiApi.finish(expected.finishReason()));
    assertThat(json.path("usage").path("prompt_tokens").asInt()).isEqualTo(prompt.length);
    assertThat(json.path("usage").path("completion_tokens").asInt())
        .isEqualTo(expected.tokens().length);
    assertThat(json.path("usage").path("total_tokens").asInt())
        .isEqualTo(prompt.length + expected.tokens().length);
  }

  @Test
  void completionIsTheGeneratorsGreedyOutput() throws Exception {
    String prompt = "The capital of France is";
    long[] ids = model.tokenizer().encode(prompt, true);
    Generation expected = direct(ids, 20, Adapters.NONE);
    ServerClient.Reply r =
        client.post(
            "/v1/completions",
            """
            {"model": "tiny", "prompt": "The capital of France is", "max_tokens": 20,
             "temperature": 0, "return_token_ids": true}
            """);
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    JsonNode choice = r.json().path("choices").get(0);
    assertThat(r.json().path("object").asText()).isEqualTo("text_completion");
    assertThat(longs(choice.path("token_ids"))).containsExactly(expected.tokens());
    assertThat(choice.path("text").asText()).isEqualTo(text(expected.tokens()));

    // The same ids given as a token list, and n = 2 greedy choices: all equal.
    StringBuilder idList = new StringBuilder();
    for (long id : ids) {
      idList.append(idList.length() == 0 ? "" : ",").append(id);
    }
    r =
        client.post(
            "/v1/completions",
            "{\"prompt\": [" + idList + "], \"max_tokens\": 20, \"temperature\": 0, \"n\": 2}");
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(r.json().path("choices")).hasSize(2);
    for (JsonNode c : r.json().path("choices")) {
      assertThat(c.path("text").asText()).isEqualTo(text(expected.tokens()));
    }
  }

  @Test
  void kaitoChatIsTheGeneratorsGreedyOutputWithEveryAdapter() throws Exception {
    String prompt = "Once upon a time";
    long[] ids = model.tokenizer().encode(prompt, true);
    // Upstream's transformers runtime serves one model with all adapters merged at their weights.
    Generation expected = direct(ids, 16, model.allAdapters());
    Generation base = direct(ids, 16, Adapters.NONE);
    assertThat(expected.tokens()).as("adapters change the output").isNotEqualTo(base.tokens());

    ServerClient.Reply r =
        client.post(
            "/chat",
            """
            {"prompt": "Once upon a time",
             "generate_kwargs": {"do_sample": false, "max_new_tokens": 16}}
            """);
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(r.json().path("Result").asText()).isEqualTo(prompt + text(expected.tokens()));

    r =
        client.post(
            "/chat",
            """
            {"prompt": "Once upon a time", "return_full_text": false,
             "generate_kwargs": {"do_sample": false, "max_length": 20}}
            """);
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    // max_length counts the prompt (HF): 20 - prompt tokens are generated.
    Generation byLength = direct(ids, 20 - ids.length, model.allAdapters());
    assertThat(r.json().path("Result").asText()).isEqualTo(text(byLength.tokens()));

    long[] chatIds = model.tokenizer().encodeChat(chatMessages(), true);
    Generation chat = direct(chatIds, 12, model.allAdapters());
    r =
        client.post(
            "/chat",
            """
            {"messages": [{"role": "system", "content": "Be brief."},
              {"role": "user", "content": "Tell me a joke about GPUs, s'il vous plaît."}],
             "generate_kwargs": {"do_sample": false, "max_new_tokens": 12}}
            """);
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(r.json().path("Result").asText()).isEqualTo(text(chat.tokens()));
  }

  @Test
  void kaitoChatOptions() throws Exception {
    // handle_long_generation "hole": a prompt past the context loses its start, HF's pipeline way.
    String prompt = "abcdefghij".repeat(10); // 100 byte-level tokens > context 96
    long[] ids = model.tokenizer().encode(prompt, true);
    long[] kept = java.util.Arrays.copyOfRange(ids, ids.length - (CONTEXT - 6), ids.length);
    Generation hole = direct(kept, 6, model.allAdapters());
    ServerClient.Reply r =
        client.post(
            "/chat",
            "{\"prompt\": \""
                + prompt
                + "\", \"return_full_text\": false, \"handle_long_generation\": \"hole\","
                + " \"generate_kwargs\": {\"do_sample\": false, \"max_new_tokens\": 6}}");
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(r.json().path("Result").asText()).isEqualTo(text(hole.tokens()));

    // num_return_sequences: upstream concatenates the sequences' texts.
    long[] hi = model.tokenizer().encode("Hi", true);
    String once = text(direct(hi, 5, model.allAdapters()).tokens());
    r =
        client.post(
            "/chat",
            """
            {"prompt": "Hi", "generate_kwargs": {"do_sample": false, "max_new_tokens": 5,
             "num_return_sequences": 2}}
            """);
    assertThat(r.json().path("Result").asText()).isEqualTo("Hi" + once + "Hi" + once);

    // Sampling (upstream's default do_sample true, top_k 10) with a seed is reproducible.
    String seeded =
        """
        {"prompt": "Hi", "generate_kwargs": {"max_new_tokens": 12, "seed": %d}}
        """;
    String a = client.post("/chat", seeded.formatted(1)).json().path("Result").asText();
    assertThat(client.post("/chat", seeded.formatted(1)).json().path("Result").asText())
        .isEqualTo(a);
    assertThat(KaitoChatApi.cleanUpTokenizationSpaces("It 's fine , is n't it ?"))
        .isEqualTo("It's fine, isn't it?");
  }

  @Test
  void openAiSamplingWithASeedIsReproducible() throws Exception {
    String request =
        """
        {"prompt": "Once", "max_tokens": 16, "temperature": 1.0, "top_p": 0.95, "seed": %d,
         "return_token_ids": true}
        """;
    JsonNode first = client.post("/v1/completions", request.formatted(5)).json();
    JsonNode again = client.post("/v1/completions", request.formatted(5)).json();
    long[] greedy = direct(model.tokenizer().encode("Once", true), 16, Adapters.NONE).tokens();
    long[] sampled = longs(first.path("choices").get(0).path("token_ids"));
    assertThat(longs(again.path("choices").get(0).path("token_ids"))).containsExactly(sampled);
    assertThat(sampled).as("temperature 1 samples, it is not greedy").isNotEqualTo(greedy);
  }

  @Test
  void streamingConcatenatesToTheNonStreamingAnswer() throws Exception {
    String request =
        """
        {"messages": [{"role": "user", "content": "Write a long story."}],
         "temperature": 0, "max_tokens": 60 %s}
        """;
    ServerClient.Reply whole = client.post("/v1/chat/completions", request.formatted(""));
    assertThat(whole.status()).as(whole.body()).isEqualTo(200);
    String expected = whole.json().path("choices").get(0).path("message").path("content").asText();
    assertThat(expected).hasSizeGreaterThan(10);
    // Random byte-level tokens: the answer has multi-byte or broken UTF-8, which streaming must
    // hold back until it is complete.
    assertThat(expected.chars().anyMatch(ch -> ch > 127)).as(expected).isTrue();

    ServerClient.Reply streamed =
        client.post(
            "/v1/chat/completions",
            request.formatted(", \"stream\": true, \"stream_options\": {\"include_usage\": true}"));
    assertThat(streamed.status()).isEqualTo(200);
    assertThat(streamed.contentType()).startsWith("text/event-stream");
    List<String> events = streamed.events();
    assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
    StringBuilder content = new StringBuilder();
    List<JsonNode> chunks = new ArrayList<>();
    for (String e : events.subList(0, events.size() - 1)) {
      chunks.add(ServerClient.JSON.readTree(e));
    }
    assertThat(chunks.get(0).path("choices").get(0).path("delta").path("role").asText())
        .isEqualTo("assistant");
    String finish = null;
    int contentChunks = 0;
    for (JsonNode c : chunks) {
      assertThat(c.path("object").asText()).isEqualTo("chat.completion.chunk");
      for (JsonNode choice : c.path("choices")) {
        if (choice.path("delta").hasNonNull("content")) {
          content.append(choice.path("delta").path("content").asText());
          contentChunks++;
        }
        if (choice.hasNonNull("finish_reason")) {
          finish = choice.path("finish_reason").asText();
        }
      }
    }
    assertThat(contentChunks).as("streamed in pieces").isGreaterThan(5);
    assertThat(content.toString()).isEqualTo(expected);
    assertThat(finish)
        .isEqualTo(whole.json().path("choices").get(0).path("finish_reason").asText());
    JsonNode usage = chunks.get(chunks.size() - 1).path("usage");
    assertThat(usage.path("completion_tokens").asInt())
        .isEqualTo(whole.json().path("usage").path("completion_tokens").asInt());

    // A stop string from the middle of that answer: both forms end before its first occurrence.
    String stop = expected.substring(expected.length() / 2, expected.length() / 2 + 2);
    String cut = expected.substring(0, expected.indexOf(stop));
    String stopJson = ServerClient.JSON.writeValueAsString(stop);
    ServerClient.Reply stopped =
        client.post("/v1/chat/completions", request.formatted(", \"stop\": " + stopJson));
    JsonNode stoppedChoice = stopped.json().path("choices").get(0);
    assertThat(stoppedChoice.path("message").path("content").asText()).isEqualTo(cut);
    assertThat(stoppedChoice.path("finish_reason").asText()).isEqualTo("stop");
    ServerClient.Reply stoppedStream =
        client.post(
            "/v1/chat/completions", request.formatted(", \"stream\": true, \"stop\": " + stopJson));
    assertThat(streamedChatContent(stoppedStream)).isEqualTo(cut);
  }

  @Test
  void completionStreamingConcatenatesToo() throws Exception {
    String request =
        """
        {"prompt": "Numbers: 1, 2, 3,", "temperature": 0, "max_tokens": 50 %s}
        """;
    ServerClient.Reply whole = client.post("/v1/completions", request.formatted(""));
    String expected = whole.json().path("choices").get(0).path("text").asText();
    ServerClient.Reply streamed =
        client.post("/v1/completions", request.formatted(", \"stream\": true"));
    List<String> events = streamed.events();
    assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
    StringBuilder text = new StringBuilder();
    for (String e : events.subList(0, events.size() - 1)) {
      for (JsonNode choice : ServerClient.JSON.readTree(e).path("choices")) {
        text.append(choice.path("text").asText());
      }
    }
    assertThat(text.toString()).isEqualTo(expected);
  }

  static String streamedChatContent(ServerClient.Reply r) throws Exception {
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    StringBuilder content = new StringBuilder();
    List<String> events = r.events();
    assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
    for (String e : events.subList(0, events.size() - 1)) {
      for (JsonNode choice : ServerClient.JSON.readTree(e).path("choices")) {
        if (choice.path("delta").hasNonNull("content")) {
          content.append(choice.path("delta").path("content").asText());
        }
      }
    }
    return content.toString();
  }

  @Test
  void adaptersAreListedAndSelectedByModelName() throws Exception {
    ServerClient.Reply models = client.get("/v1/models");
    assertThat(models.status()).isEqualTo(200);
    JsonNode data = models.json().path("data");
    assertThat(models.json().path("object").asText()).isEqualTo("list");
    List<String> ids = new ArrayList<>();
    data.forEach(m -> ids.add(m.path("id").asText()));
    assertThat(ids).containsExactly("tiny", "alpha", "beta");
    assertThat(data.get(1).path("parent").asText()).isEqualTo("tiny");
    assertThat(data.get(0).path("max_model_len").asInt()).isEqualTo(CONTEXT);

    String prompt = "Adapters are";
    long[] promptIds = model.tokenizer().encode(prompt, true);
    String request =
        """
        {"model": "%s", "prompt": "Adapters are", "max_tokens": 16, "temperature": 0,
         "return_token_ids": true}
        """;
    var alpha = model.adapter("alpha").orElseThrow();
    var beta = model.adapter("beta").orElseThrow();
    long[] base = direct(promptIds, 16, Adapters.NONE).tokens();
    long[] withAlpha = direct(promptIds, 16, Adapters.of(alpha.adapter(), 1f)).tokens();
    long[] withBeta = direct(promptIds, 16, Adapters.of(beta.adapter(), BETA_STRENGTH)).tokens();
    assertThat(withAlpha).isNotEqualTo(base);
    assertThat(withBeta).isNotEqualTo(base).isNotEqualTo(withAlpha);

    for (var c : List.of(List.of("tiny", base), List.of("alpha", withAlpha))) {
      ServerClient.Reply r = client.post("/v1/completions", request.formatted(c.get(0)));
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(r.json().path("model").asText()).isEqualTo(c.get(0));
      assertThat(longs(r.json().path("choices").get(0).path("token_ids")))
          .containsExactly((long[]) c.get(1));
    }
    ServerClient.Reply r = client.post("/v1/completions", request.formatted("beta"));
    assertThat(longs(r.json().path("choices").get(0).path("token_ids")))
        .as("beta at its configured strength " + BETA_STRENGTH)
        .containsExactly(withBeta);
  }

  /** Each bad request, its status and a phrase of its message. */
  record Bad(String path, String body, int status, String param, String message) {}

  @Test
  void badInputGetsASpecific4xxAndTheServerKeepsServing() throws Exception {
    String longPrompt = "word ".repeat(40); // 200 byte-level tokens > 96
    List<Bad> cases =
        List.of(
            new Bad("/v1/chat/completions", "{\"messages\": [", 400, null, "not valid JSON"),
            new Bad("/v1/chat/completions", "{} {}", 400, null, "not valid JSON"),
            new Bad("/v1/chat/completions", "", 400, null, "body is empty"),
            new Bad("/v1/chat/completions", "[1, 2]", 400, null, "must be a JSON object"),
            new Bad("/v1/chat/completions", "{\"messages\": []}", 400, "messages", "at least one"),
            new Bad("/v1/chat/completions", "{}", 400, "messages", "'messages' is required"),
            new Bad("/v1/chat/completions", "{\"messages\": \"hi\"}", 400, "messages", "a list"),
            new Bad(
                "/v1/chat/completions",
                "{\"messages\": [{\"content\": \"hi\"}]}",
                400,
                "messages[0].role",
                "non-empty string"),
            new Bad(
                "/v1/chat/completions",
                "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}",
                400,
                "messages[0].content",
                "a string or a list of text parts"),
            new Bad(
                "/v1/chat/completions",
                "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
                400,
                "messages[0].content",
                "text only"),
            new Bad(
                "/v1/chat/completions",
                "{\"messages\": [{\"role\": \"robot\", \"content\": \"beep\"}]}",
                400,
                "messages",
                "roles must be system, user or assistant"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"max_tokens\": \"ten\""),
                400,
                "max_tokens",
                "must be an integer, got a string"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"max_tokens\": 0"),
                400,
                "max_tokens",
                "between 1 and"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"max_tokens\": 2.5"),
                400,
                "max_tokens",
                "an integer"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"max_tokens\": 100000"),
                400,
                "max_tokens",
                "maximum context length is 96 tokens"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"max_completion_tokens\": -3"),
                400,
                "max_completion_tokens",
                "between 1 and"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"temperature\": \"hot\""),
                400,
                "temperature",
                "a number"),
            new Bad(
                "/v1/chat/completions", msg(", \"temperature\": 3"), 400, "temperature", "between"),
            new Bad("/v1/chat/completions", msg(", \"top_p\": 0"), 400, "top_p", "> 0.0"),
            new Bad("/v1/chat/completions", msg(", \"n\": 9"), 400, "n", "between 1 and 8"),
            new Bad("/v1/chat/completions", msg(", \"stream\": \"yes\""), 400, "stream", "true"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"stream_options\": {\"include_usage\": true}"),
                400,
                "stream_options",
                "only be given with"),
            new Bad("/v1/chat/completions", msg(", \"stop\": [1]"), 400, "stop", "strings"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"presence_penalty\": 1"),
                400,
                "presence_penalty",
                "not supported"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"tools\": [{\"type\": \"function\"}]"),
                400,
                "tools",
                "not supported"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"min_tokens\": 50, \"max_tokens\": 10"),
                400,
                "min_tokens",
                "must not exceed"),
            new Bad(
                "/v1/chat/completions",
                msg(", \"model\": \"gpt-4\""),
                404,
                "model",
                "The model `gpt-4` does not exist"),
            new Bad(
                "/v1/chat/completions",
                "{\"messages\": [{\"role\": \"user\", \"content\": \""
                    + longPrompt
                    + "\"}], \"max_tokens\": 5}",
                400,
                "max_tokens",
                "maximum context length is 96 tokens"),
            new Bad(
                "/v1/completions",
                "{\"prompt\": \"" + longPrompt + "\"}",
                400,
                "prompt",
                "maximum context length"),
            new Bad("/v1/completions", "{\"prompt\": 5}", 400, "prompt", "must be a string"),
            new Bad("/v1/completions", "{\"prompt\": []}", 400, "prompt", "an empty list"),
            new Bad("/v1/completions", "{\"prompt\": \"\"}", 400, "prompt", "no tokens"),
            new Bad(
                "/v1/completions",
                "{\"prompt\": [1, 99999]}",
                400,
                "prompt",
                "not an id in this model's vocabulary"),
            new Bad(
                "/v1/completions",
                "{\"prompt\": \"hi\", \"logprobs\": 2}",
                400,
                "logprobs",
                "not supported"),
            new Bad("/v1/completions", "{\"prompt\": \"hi\", \"echo\": true}", 400, "echo", "echo"),
            new Bad(
                "/v1/completions",
                "{\"prompt\": \"hi\", \"model\": 3}",
                400,
                "model",
                "must be a string"),
            new Bad("/v1/unknown", "{}", 404, null, "no endpoint POST /v1/unknown"),
            new Bad("/chat", "{\"prompt\": [", 400, null, "not valid JSON"),
            new Bad("/chat", "{}", 400, null, "prompt required"),
            new Bad(
                "/chat",
                "{\"prompt\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"b\"}]}",
                400,
                null,
                "not both"),
            new Bad("/chat", "{\"prompt\": 3}", 400, null, "'prompt' must be a string"),
            new Bad("/chat", "{\"messages\": []}", 400, null, "at least one message"),
            new Bad(
                "/chat",
                "{\"prompt\": \"hi\", \"generate_kwargs\": {\"num_beams\": 4}}",
                400,
                null,
                "beam search is not supported"),
            new Bad(
                "/chat",
                "{\"prompt\": \"hi\", \"generate_kwargs\": {\"output_scores\": true}}",
                400,
                null,
                "'generate_kwargs.output_scores' is not supported"),
            new Bad(
                "/chat",
                "{\"prompt\": \"hi\", \"generate_kwargs\": {\"temperature\": 0}}",
                400,
                null,
                "'generate_kwargs.temperature' must be > 0"),
            new Bad(
                "/chat",
                "{\"prompt\": \"hi\", \"generate_kwargs\": {\"top_k\": \"ten\"}}",
                400,
                null,
                "'generate_kwargs.top_k' must be an integer"),
            new Bad(
                "/chat",
                "{\"prompt\": \"hi\", \"generate_kwargs\": \"fast\"}",
                400,
                null,
                "'generate_kwargs' must be an object"),
            new Bad(
                "/chat",
                "{\"prompt\": \""
                    + "word ".repeat(15)
                    + "\", \"generate_kwargs\": {\"max_length\": 20}}",
                400,
                null,
                "leaves nothing to generate"),
            new Bad(
                "/chat",
                "{\"prompt\": \""
                    + longPrompt
                    + "\", \"generate_kwargs\": {\"max_new_tokens\": 5}}",
                400,
                null,
                "maximum context length is 96"),
            new Bad(
                "/chat",
                "{\"prompt\": \"hi\", \"handle_long_generation\": \"truncate\"}",
                400,
                null,
                "\"hole\" or null"));
    for (Bad c : cases) {
      ServerClient.Reply r = client.post(c.path(), c.body());
      String what = c.path() + " " + c.body() + " -> " + r.status() + " " + r.body();
      assertThat(r.status()).as(what).isEqualTo(c.status());
      assertThat(r.contentType()).as(what).startsWith("application/json");
      JsonNode json = r.json();
      if (c.path().startsWith("/v1/")) {
        JsonNode error = json.path("error");
        assertThat(error.path("message").asText()).as(what).contains(c.message());
        assertThat(error.has("type") && error.has("param") && error.has("code")).as(what).isTrue();
        if (c.param() != null) {
          assertThat(error.path("param").asText()).as(what).isEqualTo(c.param());
        }
      } else {
        assertThat(json.path("detail").asText()).as(what).contains(c.message());
      }
    }
    assertThat(client.get("/v1/chat/completions").status()).isEqualTo(405);
    ServerClient.Reply big =
        client.post("/v1/completions", "{\"prompt\": \"" + "x".repeat(5 << 20) + "\"}");
    assertThat(big.status()).isEqualTo(413);
    assertThat(big.json().path("error").path("message").asText()).contains("larger");

    ServerClient.Reply ok = client.post("/v1/chat/completions", CHAT);
    assertThat(ok.status()).as(ok.body()).isEqualTo(200);
    assertThat(client.get("/health").status()).isEqualTo(200);
  }

  static String msg(String extra) {
    return "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]" + extra + "}";
  }

  @Test
  void aFailureInsideGenerationIs500AndTheServerKeepsServing() throws Exception {
    AtomicBoolean fail = new AtomicBoolean(true);
    ServedModel flaky =
        withStep(
            (sequences, maxTokens, real) -> {
              BatchEngine.Step step = real.step(sequences, maxTokens); // a first token goes out
              if (fail.get()) {
                throw new IllegalStateException("simulated native failure");
              }
              return step;
            });
    try (ChatServer s = started(CompletableFuture.completedFuture(flaky), 4)) {
      ServerClient c = new ServerClient(s.port());
      ServerClient.Reply r = c.post("/v1/chat/completions", CHAT);
      assertThat(r.status()).isEqualTo(500);
      assertThat(r.json().path("error").path("type").asText()).isEqualTo("server_error");
      assertThat(r.body()).doesNotContain("simulated").doesNotContain("Exception");
      ServerClient.Reply kaito = c.post("/chat", "{\"prompt\": \"hi\"}");
      assertThat(kaito.status()).isEqualTo(500);
      assertThat(kaito.json().path("detail").asText()).contains("server log");

      // Streaming: the stream had started, so the error is an event before [DONE].
      ServerClient.Reply stream =
          c.post(
              "/v1/chat/completions",
              CHAT.replace("\"temperature\"", "\"stream\": true, \"temperature\""));
      List<String> events = stream.events();
      assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
      assertThat(
              ServerClient.JSON
                  .readTree(events.get(events.size() - 2))
                  .path("error")
                  .path("type")
                  .asText())
          .isEqualTo("server_error");

      fail.set(false);
      ServerClient.Reply ok = c.post("/v1/chat/completions", CHAT);
      assertThat(ok.status()).as(ok.body()).isEqualTo(200);
      assertThat(c.get("/metrics").body())
          .contains(
              "kaito_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"500\"} 1.0");
    }
  }

  @Test
  void aFullQueueIs429() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ServedModel blocking =
        withStep(
            (sequences, maxTokens, real) -> {
              entered.countDown();
              try {
                release.await(1, TimeUnit.MINUTES);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return real.step(sequences, maxTokens);
            });
    // One sequence per batch and queue capacity 0: one request generates, none may wait.
    try (ChatServer s =
        ChatServer.create(
                CompletableFuture.completedFuture(blocking),
                ServerConfig.of("127.0.0.1", 0).withQueueCapacity(0).withBatching(1, 256),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
            .start()) {
      ServerClient c = new ServerClient(s.port());
      CompletableFuture<ServerClient.Reply> first =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return c.post("/v1/chat/completions", CHAT);
                } catch (Exception e) {
                  throw new RuntimeException(e);
                }
              });
      assertThat(entered.await(1, TimeUnit.MINUTES)).isTrue();
      ServerClient.Reply refused = c.post("/v1/chat/completions", CHAT);
      assertThat(refused.status()).isEqualTo(429);
      assertThat(refused.json().path("error").path("code").asText())
          .isEqualTo("rate_limit_exceeded");
      assertThat(c.post("/chat", "{\"prompt\": \"hi\"}").status()).isEqualTo(429);
      assertThat(c.get("/health").status()).as("health does not queue").isEqualTo(200);
      release.countDown();
      assertThat(first.get(1, TimeUnit.MINUTES).status()).isEqualTo(200);
      assertThat(c.post("/v1/chat/completions", CHAT).status()).isEqualTo(200);
      assertThat(c.get("/metrics").body()).contains("kaito_ratelimit_rejected_total 2.0");
    }
  }

  @Test
  void aGenerationLongerThanJettysIdleTimeoutStillAnswers() throws Exception {
    AtomicBoolean first = new AtomicBoolean(true);
    ServedModel slow =
        withStep(
            (sequences, maxTokens, real) -> {
              if (first.getAndSet(false)) {
                try {
                  // Deliberate wait (the test is about a timeout): past Jetty's default 30 s idle
                  // timeout, no bytes sent.
                  Thread.sleep(35_000);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
              return real.step(sequences, maxTokens);
            });
    try (ChatServer s = started(CompletableFuture.completedFuture(slow), 4)) {
      ServerClient.Reply r = new ServerClient(s.port()).post("/v1/chat/completions", CHAT);
      assertThat(r.status()).as(r.body()).isEqualTo(200);
    }
  }

  @Test
  void metricsCountRequestsAndTokens() throws Exception {
    try (ChatServer s = started(CompletableFuture.completedFuture(model), 4)) {
      ServerClient c = new ServerClient(s.port());
      int completion = 0;
      int prompt = 0;
      for (int i = 0; i < 2; i++) {
        JsonNode usage = c.post("/v1/chat/completions", CHAT).json().path("usage");
        completion += usage.path("completion_tokens").asInt();
        prompt += usage.path("prompt_tokens").asInt();
      }
      c.post("/v1/chat/completions", "{");
      ServerClient.Reply metrics = c.get("/metrics");
      assertThat(metrics.status()).isEqualTo(200);
      assertThat(metrics.contentType()).startsWith("text/plain");
      assertThat(metrics.body())
          .contains(
              "kaito_generation_tokens_total{kind=\"completion\",model=\"tiny\"} "
                  + (double) completion)
          .contains(
              "kaito_generation_tokens_total{kind=\"prompt\",model=\"tiny\"} " + (double) prompt)
          .contains(
              "kaito_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 2.0")
          .contains(
              "kaito_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"} 1.0")
          .contains(
              "kaito_http_request_duration_seconds_count{endpoint=\"/v1/chat/completions\"} 3")
          .contains("kaito_generation_duration_seconds_count{model=\"tiny\"} 2")
          .contains("kaito_generation_queue_waiting 0.0");
    }
  }
}
