package sh.kaito.controller.progress;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import sh.kaito.api.v1beta1.TuningProgress;

class HttpTuningProgressSourceTest {
  static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);

  static Pod pod() {
    return new PodBuilder()
        .withNewMetadata()
        .withName("p")
        .endMetadata()
        .withNewStatus()
        .withPhase("Running")
        .withPodIP("10.244.0.7")
        .endStatus()
        .build();
  }

  @Test
  void readsTheRuntimesProgressOverHttp() throws Exception {
    AtomicReference<String> body =
        new AtomicReference<>(
            "{\"step\":120,\"total_steps\":1000,\"epoch\":0.36,\"loss\":1.23456789,"
                + "\"tokens_per_second\":812.5,\"eta_seconds\":5400}");
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/progress",
        e -> {
          byte[] b = body.get().getBytes(StandardCharsets.UTF_8);
          e.sendResponseHeaders(200, b.length);
          e.getResponseBody().write(b);
          e.close();
        });
    server.start();
    try {
      var source =
          new HttpTuningProgressSource(
              Duration.ofSeconds(2),
              CLOCK,
              p -> "http://127.0.0.1:" + server.getAddress().getPort());
      TuningProgress p = source.read(pod()).orElseThrow();
      assertThat(p.step()).isEqualTo(120L);
      assertThat(p.totalSteps()).isEqualTo(1000L);
      assertThat(p.loss()).isEqualTo("1.2346");
      assertThat(p.tokensPerSecond()).isEqualTo("812.5");
      assertThat(p.etaSeconds()).isEqualTo(5400L);
      assertThat(p.updateTime()).isEqualTo("2026-01-01T00:00:00Z");

      body.set("not json");
      assertThat(source.read(pod())).isEmpty();
    } finally {
      server.stop(0);
    }
  }

  @Test
  void unreachablePodIsEmptyNotAnError() {
    var source =
        new HttpTuningProgressSource(Duration.ofMillis(300), CLOCK, p -> "http://127.0.0.1:1");
    assertThat(source.read(pod())).isEmpty();
  }
}
