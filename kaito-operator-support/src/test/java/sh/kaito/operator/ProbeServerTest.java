package sh.kaito.operator;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class ProbeServerTest {
  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void healthFailsNamingWhatDiedReadinessAndMetricsAreServed() throws Exception {
    Health health = new Health();
    AtomicBoolean dead = new AtomicBoolean();
    AtomicBoolean ready = new AtomicBoolean();
    health.addLiveness(() -> dead.get() ? List.of("worker w-0 died: boom") : List.of());
    health.readiness(ready::get);
    int healthPort = freePort();
    int metricsPort = freePort();
    try (ProbeServer ignored =
        ProbeServer.start("127.0.0.1", healthPort, metricsPort, health, () -> "m_total 1\n")) {
      assertThat(get(healthPort, "/healthz").statusCode()).isEqualTo(200);
      assertThat(get(healthPort, "/readyz").statusCode()).isEqualTo(503);
      ready.set(true);
      assertThat(get(healthPort, "/readyz").statusCode()).isEqualTo(200);
      dead.set(true);
      HttpResponse<String> unhealthy = get(healthPort, "/healthz");
      assertThat(unhealthy.statusCode()).isEqualTo(503);
      assertThat(unhealthy.body()).contains("worker w-0 died: boom");
      assertThat(get(metricsPort, "/metrics").body()).isEqualTo("m_total 1\n");
    }
  }

  private HttpResponse<String> get(int port, String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
