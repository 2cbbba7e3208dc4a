package sh.kaito.provisioner.azure;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** An HTTPS server on 127.0.0.1 with the test CA's certificate that records every request. */
abstract class FakeHttps implements AutoCloseable {
  /** One request as it arrived: {@code nanos} from {@link System#nanoTime()}. */
  record Request(
      String method,
      String path,
      String query,
      Map<String, String> headers,
      String body,
      long nanos) {
    String header(String name) {
      return headers.get(name.toLowerCase(java.util.Locale.ROOT));
    }
  }

  private final HttpsServer server;
  private final List<Request> requests = new ArrayList<>();

  FakeHttps(TestCa ca) throws IOException {
    server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(ca.server));
    server.createContext("/", this::dispatch);
    server.start();
  }

  URI endpoint() {
    return URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/");
  }

  synchronized List<Request> requests() {
    return List.copyOf(requests);
  }

  private void dispatch(HttpExchange ex) throws IOException {
    Map<String, String> headers = new java.util.HashMap<>();
    ex.getRequestHeaders()
        .forEach((k, v) -> headers.put(k.toLowerCase(java.util.Locale.ROOT), String.join(",", v)));
    Request r =
        new Request(
            ex.getRequestMethod(),
            ex.getRequestURI().getPath(),
            ex.getRequestURI().getRawQuery(),
            headers,
            new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8),
            System.nanoTime());
    synchronized (this) {
      requests.add(r);
      handle(ex, r);
    }
  }

  abstract void handle(HttpExchange ex, Request r) throws IOException;

  static void reply(HttpExchange ex, int status, String body, String... headers)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    for (int i = 0; i + 1 < headers.length; i += 2) {
      ex.getResponseHeaders().set(headers[i], headers[i + 1]);
    }
    ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    if (bytes.length > 0) {
      try (OutputStream out = ex.getResponseBody()) {
        out.write(bytes);
      }
    }
    ex.close();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
