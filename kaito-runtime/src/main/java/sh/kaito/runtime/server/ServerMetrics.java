package sh.kaito.runtime.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * The server's meters. Prometheus names: {@code kaito_http_requests_total{endpoint,status}}, {@code
 * kaito_http_request_duration_seconds{endpoint}}, {@code
 * kaito_generation_tokens_total{model,kind=prompt|completion}}, {@code
 * kaito_generation_duration_seconds{model}}, {@code kaito_generation_queue_waiting}, {@code
 * kaito_generation_running}, {@code kaito_ratelimit_rejected_total} (upstream's name for 429s).
 */
final class ServerMetrics implements GenerationQueue.Observer {

  private final MeterRegistry registry;
  private final Counter rejected;

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
  }

  void rejected() {
    rejected.increment();
  }

  private Counter tokens(String model, String kind) {
    return Counter.builder("kaito.generation.tokens")
        .description("Prompt tokens read and completion tokens generated")
        .tag("model", model)
        .tag("kind", kind)
        .register(registry);
  }
}
