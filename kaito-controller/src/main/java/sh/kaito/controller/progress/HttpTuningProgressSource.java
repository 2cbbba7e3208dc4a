package sh.kaito.controller.progress;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.function.Function;
import sh.kaito.api.v1beta1.TuningProgress;
import sh.kaito.controller.manifests.Manifests;

/**
 * Reads {@code GET http://<pod IP>:5000/progress} from the {@code tune} container, as Prometheus
 * scrapes pods: the controller runs in the cluster and reaches pod IPs directly. The runtime
 * answers {@code {"step":120,"total_steps":1000,"epoch":0.36,"loss":1.234,
 * "tokens_per_second":812.5,"eta_seconds":5400}} (every field optional).
 */
public final class HttpTuningProgressSource implements TuningProgressSource {
  public static final String PATH = "/progress";

  private final HttpClient http;
  private final Duration timeout;
  private final Clock clock;
  private final Function<Pod, String> baseUrl;
  private final ObjectMapper json = new ObjectMapper();

  public HttpTuningProgressSource(Duration timeout, Clock clock) {
    this(
        timeout,
        clock,
        pod -> "http://" + pod.getStatus().getPodIP() + ":" + Manifests.RUNTIME_PORT);
  }

  /**
   * @param baseUrl where a pod's runtime listens (tests point it at a local server)
   */
  public HttpTuningProgressSource(Duration timeout, Clock clock, Function<Pod, String> baseUrl) {
    this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
    this.timeout = timeout;
    this.clock = clock;
    this.baseUrl = baseUrl;
  }

  @Override
  public Optional<TuningProgress> read(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getPodIP() == null) {
      return Optional.empty();
    }
    try {
      HttpResponse<String> response =
          http.send(
              HttpRequest.newBuilder(URI.create(baseUrl.apply(pod) + PATH))
                  .timeout(timeout)
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        return Optional.empty();
      }
      return parse(response.body(), clock);
    } catch (IOException | IllegalArgumentException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  /** The runtime's JSON as a {@link TuningProgress}; empty when it is not a JSON object. */
  public static Optional<TuningProgress> parse(String body, Clock clock) {
    JsonNode n;
    try {
      n = new ObjectMapper().readTree(body);
    } catch (IOException e) {
      return Optional.empty();
    }
    if (n == null || !n.isObject()) {
      return Optional.empty();
    }
    return Optional.of(
        new TuningProgress(
            longOrNull(n.get("step")),
            longOrNull(n.get("total_steps")),
            decimalOrNull(n.get("epoch")),
            decimalOrNull(n.get("loss")),
            decimalOrNull(n.get("tokens_per_second")),
            longOrNull(n.get("eta_seconds")),
            Instant.now(clock).truncatedTo(ChronoUnit.SECONDS).toString()));
  }

  private static Long longOrNull(JsonNode v) {
    return v != null && v.isNumber() ? v.asLong() : null;
  }

  /** Decimal strings, rounded to 4 significant places after the point (CRDs avoid floats). */
  private static String decimalOrNull(JsonNode v) {
    if (v == null || !v.isNumber()) {
      return null;
    }
    return new java.math.BigDecimal(v.asText())
        .setScale(4, java.math.RoundingMode.HALF_UP)
        .stripTrailingZeros()
        .toPlainString();
  }
}
