package sh.kaito.runtime.server;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.runtime.generate.BatchEngine;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.Sequence;
import sh.kaito.runtime.lora.Adapters;

/**
 * The step scheduler behind a real port: concurrent requests share steps and each gets its answer
 * alone; a client that goes away leaves the batch; the request timeout, {@code --max-model-len} and
 * a draining shutdown answer as documented.
 */
class SchedulerIT {

  static final int CONTEXT = 128;
  static final int MAX_MODEL_LEN = 100;

  @TempDir static Path tmp;
  static ServedModel model;

  @BeforeAll
  static void load() throws Exception {
    model =
        ServedModel.load(
            TinyModels.servedWithAdapters(tmp, CONTEXT, 0.5f),
            Device.cpu(),
            new ServedModel.Limits(16L << 20, MAX_MODEL_LEN));
  }

  @AfterAll
  static void close() {
    if (model != null) {
      model.close();
    }
  }

  /** Counts (and optionally slows) the steps of the served model's engine. */
  static final class Watched implements HookedEngine.StepHook {
    final long stepMillis;
    final AtomicInteger steps = new AtomicInteger();
    final ConcurrentLinkedQueue<Integer> batchSizes = new ConcurrentLinkedQueue<>();

    Watched(long stepMillis) {
      this.stepMillis = stepMillis;
    }

    @Override
    public BatchEngine.Step step(List<Sequence> sequences, int maxTokens, GenerationEngine real) {
      if (stepMillis > 0) {
        try {
          Thread.sleep(stepMillis); // a slower model, so that a request outlives its client
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      BatchEngine.Step s = real.step(sequences, maxTokens);
      steps.incrementAndGet();
      batchSizes.add(s.sequences());
      return s;
    }

    ServedModel around(ServedModel m) {
      return m.withEngine(new HookedEngine(m.engine(), this));
    }
  }

  static ChatServer start(ServedModel m, ServerConfig config) {
    return ChatServer.create(
            CompletableFuture.completedFuture(m),
            config,
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
        .start();
  }

  static ServerConfig config() {
    return ServerConfig.of("127.0.0.1", 0);
  }

  static String completion(String prompt, String model, int maxTokens, boolean stream) {
    return "{\"model\": \""
        + model
        + "\", \"prompt\": \""
        + prompt
        + "\", \"temperature\": 0, \"max_tokens\": "
        + maxTokens
        + ", \"ignore_eos\": true, \"return_token_ids\": true"
        + (stream ? ", \"stream\": true" : "")
        + "}";
  }

  static void poll(BooleanSupplier condition, Duration limit, String what) throws Exception {
    long until = System.nanoTime() + limit.toNanos();
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime() - until).as("waiting for " + what).isNegative();
      Thread.sleep(10);
    }
  }

  @Test
  void concurrentRequestsShareStepsAndEachGetsItsAnswerAlone() throws Exception {
    Watched watched = new Watched(0);
    ServedModel m = watched.around(model);
    String[] adapters = {"tiny", "alpha", "beta"};
    try (ChatServer s = start(m, config())) {
      ServerClient c = new ServerClient(s.port());
      List<CompletableFuture<ServerClient.Reply>> replies = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        String body =
            completion("request " + i + " " + "x".repeat(i * 7), adapters[i % 3], 20 + i, false);
        replies.add(
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return c.post("/v1/completions", body);
                  } catch (Exception e) {
                    throw new RuntimeException(e);
                  }
                }));
      }
      for (int i = 0; i < 8; i++) {
        ServerClient.Reply r = replies.get(i).get(2, TimeUnit.MINUTES);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonNode choice = r.json().path("choices").get(0);
        long[] prompt = ChatServerIT.longs(choice.path("prompt_token_ids"));
        Adapters adapters1 =
            i % 3 == 0
                ? Adapters.NONE
                : Adapters.of(
                    model.adapter(adapters[i % 3]).orElseThrow().adapter(),
                    model.adapter(adapters[i % 3]).orElseThrow().strength());
        long[] alone =
            model
                .engine()
                .generate(prompt, SamplingParams.greedy(20 + i, Set.of()), adapters1, t -> {})
                .tokens();
        assertThat(ChatServerIT.longs(choice.path("token_ids")))
            .as("request %d in a batch against alone", i)
            .containsExactly(alone);
      }
      int widest = watched.batchSizes.stream().mapToInt(Integer::intValue).max().orElse(0);
      System.out.printf("scheduler steps=%d widest_batch=%d%n", watched.steps.get(), widest);
      assertThat(widest).as("several sequences in one step").isGreaterThan(1);
      assertThat(model.engine().budget().used()).as("all KV memory given back").isZero();
    }
  }

  @Test
  void aClientThatGoesAwayLeavesTheBatch() throws Exception {
    for (boolean stream : new boolean[] {false, true}) {
      Watched watched = new Watched(40);
      try (ChatServer s = start(watched.around(model), config())) {
        String body = completion("a long answer", "tiny", 80, stream);
        try (Socket socket = new Socket("127.0.0.1", s.port())) {
          OutputStream out = socket.getOutputStream();
          out.write(
              ("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + "Content-Length: "
                      + body.getBytes(StandardCharsets.UTF_8).length
                      + "\r\n\r\n"
                      + body)
                  .getBytes(StandardCharsets.UTF_8));
          out.flush();
          poll(() -> watched.steps.get() >= 3, Duration.ofSeconds(30), "generation started");
        }
        int atClose = watched.steps.get();
        poll(
            () -> s.queue().runningSequences() == 0,
            Duration.ofSeconds(30),
            "the sequence leaves the batch");
        int after = watched.steps.get() - atClose;
        System.out.printf("disconnect stream=%s steps_after_close=%d of 80%n", stream, after);
        // A stream's next write fails at once; a non-streaming request is probed after 0.5 s: at
        // 40 ms a step, ~13 steps, then it leaves before the next step (of 80 it would run).
        assertThat(after).as("steps run after the client left").isLessThan(stream ? 5 : 20);
        assertThat(model.engine().budget().used()).isZero();
      }
    }
  }

  @Test
  void limitsAnswer400And504() throws Exception {
    try (ChatServer s = start(model, config())) {
      ServerClient c = new ServerClient(s.port());
      ServerClient.Reply tooLong =
          c.post("/v1/completions", completion("y".repeat(90), "tiny", 20, false));
      assertThat(tooLong.status()).isEqualTo(400);
      assertThat(tooLong.json().path("error").path("message").asText())
          .contains("maximum context length is " + MAX_MODEL_LEN + " tokens");
      JsonNode models = c.get("/v1/models").json();
      assertThat(models.path("data").get(0).path("max_model_len").asInt()).isEqualTo(MAX_MODEL_LEN);
    }
    Watched slow = new Watched(20);
    try (ChatServer s =
        start(
            slow.around(model),
            config().withTimeouts(Duration.ofMillis(300), Duration.ofSeconds(5)))) {
      ServerClient.Reply r =
          new ServerClient(s.port()).post("/v1/completions", completion("slow", "tiny", 80, false));
      assertThat(r.status()).as(r.body()).isEqualTo(504);
      assertThat(r.json().path("error").path("message").asText()).contains("request timeout");
      poll(
          () -> s.queue().runningSequences() == 0,
          Duration.ofSeconds(10),
          "timed out request dropped");
    }
  }

  @Test
  void shutdownRefusesNewRequestsAndFinishesRunningOnes() throws Exception {
    Watched slow = new Watched(20);
    ChatServer s = start(slow.around(model), config());
    ServerClient c = new ServerClient(s.port());
    CompletableFuture<ServerClient.Reply> running =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return c.post("/v1/completions", completion("finish me", "tiny", 80, false));
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    poll(() -> slow.steps.get() >= 2, Duration.ofSeconds(30), "generation started");
    CompletableFuture<Void> closing = CompletableFuture.runAsync(s::close);
    poll(
        () -> {
          try {
            return c.post("/v1/completions", completion("late", "tiny", 5, false)).status() == 503;
          } catch (Exception e) {
            return false;
          }
        },
        Duration.ofSeconds(10),
        "503 while draining");
    ServerClient.Reply finished = running.get(1, TimeUnit.MINUTES);
    assertThat(finished.status()).as(finished.body()).isEqualTo(200);
    assertThat(finished.json().path("usage").path("completion_tokens").asInt()).isEqualTo(80);
    closing.get(1, TimeUnit.MINUTES);
    // Once close() returned no step runs any more: the model may be closed.
    assertThat(s.queue().stepThreadAlive()).isFalse();
  }
}
