package sh.kaito.runtime.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The server's meters, in two families.
 *
 * <p>vLLM's, so that dashboards and autoscalers written for vLLM (and Kaito's vLLM runtime) work
 * unchanged: names, types, buckets and the {@code model_name}/{@code engine} labels as vLLM's
 * {@code PrometheusStatLogger} (v1) registers them. Gauges {@code vllm:num_requests_running},
 * {@code vllm:num_requests_waiting}, {@code vllm:kv_cache_usage_perc} and its older name {@code
 * vllm:gpu_cache_usage_perc}; counters {@code vllm:prompt_tokens_total}, {@code
 * vllm:generation_tokens_total}, {@code vllm:request_success_total{finished_reason}}; histograms
 * {@code vllm:time_to_first_token_seconds}, {@code vllm:inter_token_latency_seconds}, {@code
 * vllm:time_per_output_token_seconds} (per token gap, as vLLM recorded it up to 0.9), {@code
 * vllm:e2e_request_latency_seconds}, {@code vllm:request_queue_time_seconds}, {@code
 * vllm:request_prompt_tokens}, {@code vllm:request_generation_tokens}. Micrometer adds a {@code
 * _max} gauge beside each histogram.
 *
 * <p>Ours: {@code kaito_http_requests_total{endpoint,status}}, {@code
 * kaito_http_request_duration_seconds{endpoint}}, {@code
 * kaito_generation_tokens_total{model,kind=prompt|completion}}, {@code
 * kaito_generation_duration_seconds{model}}, {@code kaito_generation_queue_waiting}, {@code
 * kaito_generation_running}, {@code kaito_ratelimit_rejected_total} (upstream's name for 429s).
 */
final class ServerMetrics implements GenerationQueue.Observer {

  /** vLLM's {@code vllm:time_to_first_token_seconds} buckets. */
  static final double[] TTFT_BUCKETS = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0
  };

  /** vLLM's inter-token latency and time-per-output-token buckets. */
  static final double[] TOKEN_LATENCY_BUCKETS = {
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0
  };

  /** vLLM's request latency buckets (end to end, queue, inference). */
  static final double[] REQUEST_LATENCY_BUCKETS = {
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0
  };

  private final MeterRegistry registry;
  private final Counter rejected;
  private final Map<String, VllmMeters> vllm = new ConcurrentHashMap<>();
  private volatile String servedModel;
  private volatile int maxModelLen = 1 << 20;

  ServerMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.rejected =
        Counter.builder("kaito.ratelimit.rejected")
            .description("Requests refused with 429 because the generation queue was full")
            .register(registry);
  }

  void queue(GenerationQueue queue) {
    Gauge.builder("kaito.generation.queue.waiting", queue, GenerationQueue::waiting)
        .description("Requests waiting to join the running batch")
        .register(registry);
    Gauge.builder("kaito.generation.running", queue, GenerationQueue::runningSequences)
        .description("Sequences in the running batch")
        .register(registry);
  }

  /**
   * Registers vLLM's scheduler gauges for the served model, read from {@code state}, and labels
   * every vLLM series with its name from now on (requests to an adapter too, as vLLM does); {@code
   * maxModelLen} sizes the token-count buckets.
   */
  void scheduler(String modelName, int maxModelLen, SchedulerState state) {
    this.servedModel = modelName;
    this.maxModelLen = maxModelLen;
    Tags tags = vllmTags(modelName);
    Gauge.builder("vllm:num_requests_running", state, SchedulerState::runningRequests)
        .description("Number of requests in model execution batches.")
        .tags(tags)
        .register(registry);
    Gauge.builder("vllm:num_requests_waiting", state, SchedulerState::waitingRequests)
        .description("Number of requests waiting to be processed.")
        .tags(tags)
        .register(registry);
    Gauge.builder("vllm:kv_cache_usage_perc", state, SchedulerState::kvCacheUsage)
        .description("KV-cache usage. 1 means 100 percent usage.")
        .tags(tags)
        .register(registry);
    Gauge.builder("vllm:gpu_cache_usage_perc", state, SchedulerState::kvCacheUsage)
        .description(
            "KV-cache usage. 1 means 100 percent usage. Older name of kv_cache_usage_perc.")
        .tags(tags)
        .register(registry);
  }

  /** The vLLM meters of the served model (of {@code model} before the served one is known). */
  private VllmMeters vllm(String model) {
    String name = servedModel != null ? servedModel : model;
    return vllm.computeIfAbsent(name, n -> new VllmMeters(registry, n, maxModelLen));
  }

  @Override
  public void admitted(String model, int sequences, long waitedNanos) {
    VllmMeters m = vllm(model);
    for (int i = 0; i < sequences; i++) {
      m.queueTime.record(waitedNanos / 1e9);
    }
  }

  @Override
  public void firstToken(String model, long nanos) {
    vllm(model).timeToFirstToken.record(nanos / 1e9);
  }

  /** vLLM ≤ 0.9 recorded time per output token per token gap, as inter-token latency now. */
  @Override
  public void nextToken(String model, long nanos) {
    VllmMeters m = vllm(model);
    m.interTokenLatency.record(nanos / 1e9);
    m.timePerOutputToken.record(nanos / 1e9);
  }

  void request(String endpoint, int status, long nanos) {
    Counter.builder("kaito.http.requests")
        .description("HTTP requests by endpoint and status")
        .tag("endpoint", endpoint)
        .tag("status", Integer.toString(status))
        .register(registry)
        .increment();
    Timer.builder("kaito.http.request.duration")
        .description("HTTP request latency, streaming responses until their last byte")
        .tag("endpoint", endpoint)
        .register(registry)
        .record(Duration.ofNanos(nanos));
  }

  void generated(String model, int promptTokens, int completionTokens, long nanos) {
    tokens(model, "prompt").increment(promptTokens);
    tokens(model, "completion").increment(completionTokens);
    Timer.builder("kaito.generation.duration")
        .description("Time from a request's arrival to the end of one of its sequences")
        .tag("model", model)
        .register(registry)
        .record(Duration.ofNanos(nanos));
  }

  @Override
  public void finished(
      String model,
      int promptTokens,
      int completionTokens,
      sh.kaito.runtime.generate.FinishReason reason,
      long nanos) {
    generated(model, promptTokens, completionTokens, nanos);
    VllmMeters m = vllm(model);
    m.e2eLatency.record(nanos / 1e9);
    m.promptTokens.increment(promptTokens);
    m.generationTokens.increment(completionTokens);
    m.requestPromptTokens.record(promptTokens);
    m.requestGenerationTokens.record(completionTokens);
    m.success(reason == sh.kaito.runtime.generate.FinishReason.LENGTH ? "length" : "stop")
        .increment();
  }

  void rejected() {
    rejected.increment();
  }

  /**
   * What a refused client should wait before it retries ({@code Retry-After}): the mean end-to-end
   * latency of the requests served so far, in whole seconds, 1 to 60 (1 before any has finished).
   */
  long retryAfterSeconds() {
    long count = 0;
    double total = 0;
    for (VllmMeters m : vllm.values()) {
      count += m.e2eLatency.timer().count();
      total += m.e2eLatency.timer().totalTime(TimeUnit.SECONDS);
    }
    return count == 0 ? 1 : Math.max(1, Math.min(60, (long) Math.ceil(total / count)));
  }

  private Counter tokens(String model, String kind) {
    return Counter.builder("kaito.generation.tokens")
        .description("Prompt tokens read and completion tokens generated")
        .tag("model", model)
        .tag("kind", kind)
        .register(registry);
  }

  /** vLLM labels every series with the served model's name and the engine index (one here). */
  static Tags vllmTags(String modelName) {
    return Tags.of("model_name", modelName, "engine", "0");
  }

  /** vLLM's {@code build_1_2_5_buckets}: 1, 2, 5, 10, 20, 50, … up to {@code max}. */
  static double[] buckets125(int max) {
    List<Double> out = new ArrayList<>();
    for (long base = 1; base <= max; base *= 10) {
      for (long m : new long[] {1, 2, 5}) {
        if (base * m <= max) {
          out.add((double) (base * m));
        }
      }
    }
    return out.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /**
   * A histogram in seconds with fixed buckets, kept by a {@link Timer}: Micrometer's
   * DistributionSummary puts values below 1 in no bucket but +Inf, so it cannot hold vLLM's
   * sub-second buckets.
   */
  record Seconds(Timer timer) {
    void record(double seconds) {
      timer.record(Math.round(seconds * 1e9), TimeUnit.NANOSECONDS);
    }
  }

  /** The vLLM meters of one served model. */
  static final class VllmMeters {
    final Counter promptTokens;
    final Counter generationTokens;
    final Seconds timeToFirstToken;
    final Seconds interTokenLatency;
    final Seconds timePerOutputToken;
    final Seconds e2eLatency;
    final Seconds queueTime;
    final DistributionSummary requestPromptTokens;
    final DistributionSummary requestGenerationTokens;
    private final MeterRegistry registry;
    private final Tags tags;

    VllmMeters(MeterRegistry registry, String modelName, int maxModelLen) {
      this.registry = registry;
      this.tags = vllmTags(modelName);
      promptTokens = counter("vllm:prompt_tokens", "Number of prefill tokens processed.");
      generationTokens =
          counter("vllm:generation_tokens", "Number of generation tokens processed.");
      timeToFirstToken =
          seconds(
              "vllm:time_to_first_token",
              "Histogram of time to first token in seconds.",
              TTFT_BUCKETS);
      interTokenLatency =
          seconds(
              "vllm:inter_token_latency",
              "Histogram of inter-token latency in seconds.",
              TOKEN_LATENCY_BUCKETS);
      timePerOutputToken =
          seconds(
              "vllm:time_per_output_token",
              "Histogram of time per output token in seconds.",
              TOKEN_LATENCY_BUCKETS);
      e2eLatency =
          seconds(
              "vllm:e2e_request_latency",
              "Histogram of e2e request latency in seconds.",
              REQUEST_LATENCY_BUCKETS);
      queueTime =
          seconds(
              "vllm:request_queue_time",
              "Histogram of time spent in WAITING phase for request.",
              REQUEST_LATENCY_BUCKETS);
      requestPromptTokens =
          counts("vllm:request_prompt_tokens", "Number of prefill tokens processed.", maxModelLen);
      requestGenerationTokens =
          counts(
              "vllm:request_generation_tokens",
              "Number of generation tokens processed.",
              maxModelLen);
    }

    /** {@code vllm:request_success_total{finished_reason=stop|length|abort}}. */
    Counter success(String finishedReason) {
      return Counter.builder("vllm:request_success")
          .description("Count of successfully processed requests.")
          .tags(tags)
          .tag("finished_reason", finishedReason)
          .register(registry);
    }

    private Counter counter(String name, String help) {
      return Counter.builder(name).description(help).tags(tags).register(registry);
    }

    private Seconds seconds(String name, String help, double[] buckets) {
      Duration[] slos = new Duration[buckets.length];
      for (int i = 0; i < buckets.length; i++) {
        slos[i] = Duration.ofNanos(Math.round(buckets[i] * 1e9));
      }
      return new Seconds(
          Timer.builder(name)
              .description(help)
              .serviceLevelObjectives(slos)
              .tags(tags)
              .register(registry));
    }

    private DistributionSummary counts(String name, String help, int maxModelLen) {
      return DistributionSummary.builder(name)
          .description(help)
          .serviceLevelObjectives(buckets125(maxModelLen))
          .tags(tags)
          .register(registry);
    }
  }
}
