package sh.kaito.runtime.tuning.train;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code GET /progress} while {@code tune} runs: the latest {@link TrainingProgress} as JSON, the
 * shape kaito-controller's {@code HttpTuningProgressSource} reads ({@code {"step":0}} until the
 * first step ends). Anything else is 404.
 */
public final class ProgressServer implements AutoCloseable {

  private final HttpServer server;
  private final AtomicReference<String> body = new AtomicReference<>("{\"step\":0}");

  private ProgressServer(HttpServer server) {
    this.server = server;
  }

  /** Listens on all interfaces at {@code port} (0: any free port). */
  public static ProgressServer start(int port) throws IOException {
    HttpServer http = HttpServer.create(new InetSocketAddress(port), 0);
    ProgressServer s = new ProgressServer(http);
    http.createContext("/", s::handle);
    http.start();
    return s;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** Publishes the state after a step. */
  public void update(TrainingProgress progress) {
    body.set(progress.json());
  }

  /** Publishes that no step has run yet out of {@code totalSteps}. */
  public void starting(long totalSteps) {
    body.set("{\"step\":0,\"total_steps\":" + totalSteps + "}");
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      boolean ok =
          exchange.getRequestURI().getPath().equals("/progress")
              && exchange.getRequestMethod().equals("GET");
      byte[] bytes =
          (ok ? body.get() : "{\"error\":\"not found\"}").getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(ok ? 200 : 404, bytes.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
