package sh.kaito.operator;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The probe and metrics endpoints of a controller process: {@code /healthz} (200, or 503 naming
 * what died), {@code /readyz} (200 or 503) on the health port, Prometheus {@code /metrics} on the
 * metrics port (the same server when both ports are equal; a port of 0 serves nothing).
 */
public final class ProbeServer implements AutoCloseable {
  private static final String TEXT = "text/plain; charset=utf-8";
  private static final String PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";

  private final List<HttpServer> servers;

  private ProbeServer(List<HttpServer> servers) {
    this.servers = servers;
  }

  /**
   * Binds and starts the servers.
   *
   * @param metrics the Prometheus text exposition (e.g. {@code PrometheusMeterRegistry::scrape})
   */
  public static ProbeServer start(
      String bind, int healthPort, int metricsPort, Health health, Supplier<String> metrics)
      throws IOException {
    List<HttpServer> servers = new ArrayList<>();
    HttpServer healthServer = null;
    if (healthPort > 0) {
      healthServer = HttpServer.create(new InetSocketAddress(bind, healthPort), 0);
      healthServer.createContext(
          "/healthz",
          e -> {
            List<String> problems = health.livenessProblems();
            if (problems.isEmpty()) {
              reply(e, 200, TEXT, "ok");
            } else {
              reply(e, 503, TEXT, "unhealthy:\n" + String.join("\n", problems));
            }
          });
      healthServer.createContext(
          "/readyz",
          e -> {
            boolean ready = health.ready();
            reply(e, ready ? 200 : 503, TEXT, ready ? "ok" : "not ready");
          });
      servers.add(healthServer);
    }
    if (metricsPort > 0) {
      HttpServer metricsServer =
          metricsPort == healthPort
              ? healthServer
              : HttpServer.create(new InetSocketAddress(bind, metricsPort), 0);
      metricsServer.createContext("/metrics", e -> reply(e, 200, PROMETHEUS, metrics.get()));
      if (metricsServer != healthServer) {
        servers.add(metricsServer);
      }
    }
    servers.forEach(HttpServer::start);
    return new ProbeServer(servers);
  }

  private static void reply(HttpExchange e, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    e.getResponseHeaders().add("Content-Type", type);
    e.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = e.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    servers.forEach(s -> s.stop(0));
  }
}
