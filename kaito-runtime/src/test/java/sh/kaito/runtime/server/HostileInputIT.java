package sh.kaito.runtime.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.runtime.tokenizer.ChatTemplate;

/**
 * A generated corpus of malformed and abusive requests (seeded, so a failure replays) against a
 * real server: bad JSON, every field with every wrong type, huge and deeply nested bodies, invalid
 * UTF-8 and lone surrogates, absurd numbers, unknown models and adapters, broken HTTP framing, slow
 * senders and abrupt disconnects. No answer may be a 5xx, every refused request that reached the
 * API gets the JSON error shape with a message, and afterwards the server still gives a normal
 * request the engine's exact answer and has counted no 5xx.
 */
class HostileInputIT {

  static final long SEED = 20261205L;
  static final int TIMEOUT_MS = 60_000;

  @TempDir static Path tmp;

  /** How a request is sent; only the first two expect an answer. */
  enum Mode {
    WHOLE,
    SLOW,
    CUT,
    HANG_UP
  }

  /** One request of the corpus; {@code api}: well-framed, so a refusal must be our JSON error. */
  record Case(String kind, String path, byte[] request, Mode mode, boolean api) {}

  static final List<String> CHAT_FIELDS =
      List.of(
          "model",
          "messages",
          "temperature",
          "top_p",
          "top_k",
          "max_tokens",
          "max_completion_tokens",
          "n",
          "stream",
          "stream_options",
          "stop",
          "seed",
          "presence_penalty",
          "frequency_penalty",
          "logit_bias",
          "logprobs",
          "top_logprobs",
          "tools",
          "response_format",
          "min_tokens",
          "repetition_penalty",
          "ignore_eos",
          "return_token_ids",
          "user");
  static final List<String> COMPLETION_FIELDS =
      List.of(
          "model",
          "prompt",
          "temperature",
          "top_p",
          "top_k",
          "max_tokens",
          "n",
          "stream",
          "stream_options",
          "stop",
          "seed",
          "echo",
          "suffix",
          "best_of",
          "logprobs",
          "logit_bias",
          "min_tokens",
          "repetition_penalty",
          "ignore_eos",
          "return_token_ids");
  static final List<String> KAITO_FIELDS =
      List.of(
          "prompt",
          "messages",
          "return_full_text",
          "clean_up_tokenization_spaces",
          "prefix",
          "handle_long_generation",
          "generate_kwargs");
  static final List<String> KWARGS = KaitoChatApi.GENERATE_KWARGS.stream().sorted().toList();

  /** Values of every JSON type and the edges of numbers, as JSON text. */
  static final List<String> WRONG_VALUES =
      List.of(
          "\"x\"",
          "1.5",
          "-1",
          "0",
          "true",
          "[]",
          "{}",
          "null",
          "1e400",
          "99999999999999999999999",
          "-9223372036854775809",
          "[1, \"a\", null]",
          "{\"a\": {\"b\": []}}",
          "\"\\ud800\"",
          "\"\\u0000\"");

  static final String CHAT_BASE =
      "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}],"
          + " \"max_tokens\": 1, \"temperature\": 0}";
  static final String COMPLETION_BASE =
      "{\"model\": \"tiny\", \"prompt\": \"hi\", \"max_tokens\": 1, \"temperature\": 0}";
  static final String KAITO_BASE =
      "{\"prompt\": \"hi\", \"generate_kwargs\": {\"max_new_tokens\": 1, \"do_sample\": false}}";

  static List<Case> corpus() {
    Random r = new Random(SEED);
    List<Case> cases = new ArrayList<>();
    // Every field of each endpoint set to every wrong value.
    for (String v : WRONG_VALUES) {
      for (String f : CHAT_FIELDS) {
        api(cases, "wrong-type", "/v1/chat/completions", with(CHAT_BASE, f, v));
      }
      for (String f : COMPLETION_FIELDS) {
        api(cases, "wrong-type", "/v1/completions", with(COMPLETION_BASE, f, v));
      }
      for (String f : KAITO_FIELDS) {
        api(cases, "wrong-type", "/chat", with(KAITO_BASE, f, v));
      }
      for (String k : KWARGS) {
        api(
            cases,
            "wrong-type",
            "/chat",
            "{\"prompt\": \"hi\", \"generate_kwargs\": {\"max_new_tokens\": 1, \""
                + k
                + "\": "
                + v
                + "}}");
      }
      // messages and their parts of the wrong shape
      api(
          cases,
          "wrong-message",
          "/v1/chat/completions",
          with(CHAT_BASE, "messages", "[{\"role\": \"user\", \"content\": " + v + "}]"));
      api(
          cases,
          "wrong-message",
          "/v1/chat/completions",
          with(CHAT_BASE, "messages", "[{\"role\": " + v + ", \"content\": \"hi\"}]"));
      api(
          cases,
          "wrong-message",
          "/v1/chat/completions",
          with(
              CHAT_BASE,
              "messages",
              "[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": " + v + "}]}]"));
      api(
          cases,
          "wrong-message",
          "/v1/chat/completions",
          with(CHAT_BASE, "messages", "[" + v + "]"));
      api(cases, "wrong-prompt", "/v1/completions", with(COMPLETION_BASE, "prompt", "[" + v + "]"));
      api(
          cases,
          "wrong-prompt",
          "/v1/completions",
          with(COMPLETION_BASE, "prompt", "[[1, 2], " + v + "]"));
    }
    // Unknown models and adapters, absurd token ids.
    for (String m :
        List.of(
            "gpt-4", "", "tiny ", "TINY", "alpha/../tiny", "beta", "\\u0000", "x".repeat(10_000))) {
      api(cases, "unknown-model", "/v1/chat/completions", with(CHAT_BASE, "model", json(m)));
      api(cases, "unknown-model", "/v1/completions", with(COMPLETION_BASE, "model", json(m)));
    }
    for (String ids :
        List.of(
            "[-1]",
            "[261]",
            "[9223372036854775807]",
            "[1, 2, 1e3]",
            "[" + "5,".repeat(200) + "5]")) {
      api(cases, "token-ids", "/v1/completions", with(COMPLETION_BASE, "prompt", ids));
    }
    // Valid bodies cut short, and with random bytes flipped.
    for (String base : List.of(CHAT_BASE, COMPLETION_BASE, KAITO_BASE)) {
      String path =
          base == CHAT_BASE
              ? "/v1/chat/completions"
              : base == COMPLETION_BASE ? "/v1/completions" : "/chat";
      byte[] b = base.getBytes(StandardCharsets.UTF_8);
      for (int cut = 0; cut < b.length; cut += 3) {
        api(cases, "truncated-json", path, java.util.Arrays.copyOf(b, cut));
      }
      for (int i = 0; i < 40; i++) {
        byte[] m = b.clone();
        for (int k = 1 + r.nextInt(3); k > 0; k--) {
          m[r.nextInt(m.length)] = (byte) r.nextInt(256); // invalid UTF-8 included
        }
        api(cases, "mutated-json", path, m);
      }
    }
    // Not JSON objects, duplicates, trailing data, comments, NaN.
    for (String body :
        List.of(
            "[]",
            "\"hi\"",
            "42",
            "null",
            "true",
            "{} []",
            "{\"a\":1}{",
            "{\"prompt\": \"a\", \"prompt\": \"b\"}",
            "// c\n{}",
            "{\"max_tokens\": NaN}",
            "{\"max_tokens\": Infinity}",
            "{'prompt': 'hi'}",
            "\uFEFF{}",
            " ",
            "{\"prompt\": \"hi\"")) {
      for (String path : List.of("/v1/chat/completions", "/v1/completions", "/chat")) {
        api(cases, "not-an-object", path, body);
      }
    }
    // Invalid UTF-8 inside otherwise valid JSON strings.
    for (byte[] bad :
        List.of(
            new byte[] {(byte) 0xC3},
            new byte[] {(byte) 0xFF, (byte) 0xFE},
            new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
            new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80},
            new byte[] {(byte) 0xC0, (byte) 0xAF})) {
      byte[] pre = "{\"prompt\": \"a".getBytes(StandardCharsets.UTF_8);
      byte[] post = "b\", \"max_tokens\": 1}".getBytes(StandardCharsets.UTF_8);
      api(cases, "invalid-utf8", "/v1/completions", RawHttp.concat(RawHttp.concat(pre, bad), post));
      byte[] kpre = "{\"prompt\": \"a".getBytes(StandardCharsets.UTF_8);
      byte[] kpost =
          "\", \"generate_kwargs\": {\"max_new_tokens\": 1}}".getBytes(StandardCharsets.UTF_8);
      api(cases, "invalid-utf8", "/chat", RawHttp.concat(RawHttp.concat(kpre, bad), kpost));
    }
    // Deep nesting and huge bodies: just under and over the 4 MiB limit.
    for (int depth : List.of(100, 1_000, 5_000, 100_000)) {
      String nested = "[".repeat(depth) + "]".repeat(depth);
      api(cases, "deep-nesting", "/v1/chat/completions", with(CHAT_BASE, "messages", nested));
      api(
          cases,
          "deep-nesting",
          "/chat",
          with(KAITO_BASE, "generate_kwargs", "{\"a\":".repeat(depth) + "1" + "}".repeat(depth)));
    }
    String big = "word ".repeat(800_000); // 4 MB of text: under the limit, far past the context
    api(cases, "huge-body", "/v1/completions", with(COMPLETION_BASE, "prompt", json(big)));
    api(cases, "huge-body", "/chat", with(KAITO_BASE, "prompt", json(big)));
    api(
        cases,
        "huge-body",
        "/v1/completions",
        with(COMPLETION_BASE, "stop", "[" + "\"s\",".repeat(500_000) + "\"s\"]"));
    api(
        cases,
        "huge-body",
        "/v1/chat/completions",
        with(
            CHAT_BASE,
            "messages",
            "["
                + "{\"role\": \"user\", \"content\": \"hi\"},".repeat(50_000)
                + "{\"role\": \"user\", \"content\": \"hi\"}]"));
    api(cases, "huge-body", "/v1/completions", "{\"prompt\": \"" + "x".repeat(5 << 20) + "\"}");
    api(
        cases,
        "huge-number",
        "/v1/completions",
        with(COMPLETION_BASE, "max_tokens", "9".repeat(100_000)));
    // Broken HTTP framing.
    for (String head :
        List.of(
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\n",
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n",
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                + "Connection: close\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n",
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                + "Content-Length: 9\r\nConnection: close\r\n\r\n{}",
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Big: "
                + "a".repeat(70_000)
                + "\r\nConnection: close\r\n\r\n",
            "GET /" + "a".repeat(70_000) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                + "Content-Length: 2\r\nConnection: close\r\n\r\nhi",
            "POST /v1/%00%ff HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            "BREW /chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "POST /chat HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n",
            "garbage\r\n\r\n",
            "GET /health?"
                + "a=b&".repeat(5_000)
                + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) {
      cases.add(
          new Case(
              "bad-framing", "-", head.getBytes(StandardCharsets.ISO_8859_1), Mode.WHOLE, false));
    }
    // Slow senders (complete) and senders that stop mid-request and reset.
    for (int i = 0; i < 6; i++) {
      byte[] req =
          RawHttp.post("/v1/completions", COMPLETION_BASE.getBytes(StandardCharsets.UTF_8));
      cases.add(new Case("slow-sender", "/v1/completions", req, Mode.SLOW, true));
      cases.add(new Case("cut-sender", "/v1/completions", req, Mode.CUT, true));
    }
    // Clients that go away while their answer is being generated or streamed.
    for (int i = 0; i < 10; i++) {
      String stream = i % 2 == 0 ? ", \"stream\": true" : "";
      String body =
          "{\"model\": \"tiny\", \"prompt\": \"Once\", \"max_tokens\": 30, \"ignore_eos\": true"
              + stream
              + "}";
      cases.add(
          new Case(
              "hang-up",
              "/v1/completions",
              RawHttp.post("/v1/completions", body.getBytes(StandardCharsets.UTF_8)),
              Mode.HANG_UP,
              true));
    }
    return cases;
  }

  static String json(String s) {
    try {
      return ServerClient.JSON.writeValueAsString(s);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code base} (a JSON object) with {@code field} set to the raw JSON {@code value}. */
  static String with(String base, String field, String value) {
    String rest = base.substring(1);
    return "{\""
        + field
        + "\": "
        + value
        + ", "
        + rest.replaceFirst(
            "\""
                + java.util.regex.Pattern.quote(field)
                + "\": (\"[^\"]*\"|[^,}\\]]+|\\[[^\\]]*\\]|\\{[^}]*\\}),? ?",
            "");
  }

  static void api(List<Case> cases, String kind, String path, String body) {
    api(cases, kind, path, body.getBytes(StandardCharsets.UTF_8));
  }

  static void api(List<Case> cases, String kind, String path, byte[] body) {
    cases.add(new Case(kind, path, RawHttp.post(path, body), Mode.WHOLE, true));
  }

  @Test
  void aThousandHostileRequestsGetNo5xxAndTheServerStillAnswers() throws Exception {
    List<Case> corpus = corpus();
    assertThat(corpus.size()).as("corpus size").isGreaterThanOrEqualTo(1_000);
    try (ServedModel model = TestServers.tinyModel(tmp);
        ChatServer server = TestServers.start(model, 64)) {
      int port = server.port();
      Map<String, Integer> statuses = new ConcurrentHashMap<>();
      Map<String, Long> millis = new ConcurrentHashMap<>();
      List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
      long start = System.nanoTime();
      ExecutorService pool = Executors.newFixedThreadPool(8);
      List<Future<?>> done = new ArrayList<>();
      for (Case c : corpus) {
        done.add(
            pool.submit(
                () -> {
                  long t0 = System.nanoTime();
                  try {
                    RawHttp.Answer a =
                        switch (c.mode()) {
                          case WHOLE -> RawHttp.exchange(port, c.request(), TIMEOUT_MS);
                          case SLOW -> RawHttp.slow(port, c.request(), 16, 5, -1, TIMEOUT_MS);
                          case CUT ->
                              RawHttp.slow(
                                  port, c.request(), 16, 5, c.request().length / 2, TIMEOUT_MS);
                          case HANG_UP -> {
                            RawHttp.hangUpAfter(port, c.request(), 40, TIMEOUT_MS);
                            yield new RawHttp.Answer(-1, "", "");
                          }
                        };
                    statuses.merge(c.kind() + " " + a.status(), 1, Integer::sum);
                    millis.merge(c.kind(), (System.nanoTime() - t0) / 1_000_000, Long::sum);
                    check(c, a, failures);
                  } catch (Exception e) {
                    failures.add(c.kind() + " " + c.path() + ": " + e);
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get(2, TimeUnit.MINUTES);
      }
      pool.shutdown();
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf(
          "hostile corpus: %d requests in %.1f s; kind status -> count: %s%n",
          corpus.size(), seconds, new TreeMap<>(statuses));
      System.out.println("hostile corpus: milliseconds by kind " + new TreeMap<>(millis));
      assertThat(failures).as("requests answered badly").isEmpty();

      // Still healthy, still exact, and nothing counted as a server error.
      ServerClient client = new ServerClient(port);
      assertThat(client.get("/health").status()).isEqualTo(200);
      long[] ids =
          model.tokenizer().encodeChat(List.of(new ChatTemplate.Message("user", "hi")), true);
      ServerClient.Reply ok =
          client.post(
              "/v1/chat/completions",
              "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": 0,"
                  + " \"max_tokens\": 12}");
      assertThat(ok.status()).as(ok.body()).isEqualTo(200);
      assertThat(ok.json().at("/choices/0/message/content").asText())
          .isEqualTo(TestServers.greedy(model, ids, 12));
      assertThat(client.get("/metrics").body()).doesNotContain("status=\"5");
    }
  }

  /** No 5xx, no silence; a refusal of a well-framed API request is our JSON error shape. */
  static void check(Case c, RawHttp.Answer a, List<String> failures) {
    String what =
        c.kind()
            + " "
            + c.path()
            + " -> "
            + a.status()
            + " "
            + a.body().substring(0, Math.min(200, a.body().length()));
    if (c.mode() == Mode.CUT || c.mode() == Mode.HANG_UP) {
      return; // no answer expected; the server is checked afterwards
    }
    if (a.status() == 505 && c.kind().equals("bad-framing")) {
      return; // only for "HTTP/9.9": Jetty's parser answers an unknown version before our code
    }
    if (a.status() < 0 || a.status() >= 500) {
      failures.add(what);
      return;
    }
    if (c.api() && a.status() >= 400 && a.status() != 413 && a.status() != 431) {
      try {
        JsonNode json = ServerClient.JSON.readTree(a.body());
        String message =
            c.path().startsWith("/v1/")
                ? json.at("/error/message").asText("")
                : json.path("detail").asText("");
        if (message.isBlank()) {
          failures.add("no error message: " + what);
        }
      } catch (Exception e) {
        failures.add("not JSON: " + what);
      }
    }
  }
}
