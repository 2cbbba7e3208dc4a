package sh.kaito.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A loopback HTTP client for the server under test. */
final class ServerClient {

  static final ObjectMapper JSON = new ObjectMapper();

  /** A response: status, body text, and the body as JSON when it parses. */
  record Reply(int status, String contentType, String body) {
    JsonNode json() {
      try {
        return JSON.readTree(body);
      } catch (IOException e) {
        throw new AssertionError("not JSON (status " + status + "): " + body, e);
      }
    }

    /** The {@code data:} payloads of a server-sent event stream, {@code [DONE]} included. */
    List<String> events() {
      List<String> out = new ArrayList<>();
      for (String block : body.split("\n\n")) {
        if (block.startsWith("data: ")) {
          out.add(block.substring("data: ".length()));
        } else if (!block.isBlank()) {
          throw new AssertionError("not an SSE data event: " + block);
        }
      }
      return out;
    }
  }

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final String base;

  ServerClient(int port) {
    this.base = "http://127.0.0.1:" + port;
  }

  Reply get(String path) throws IOException, InterruptedException {
    return send(HttpRequest.newBuilder(URI.create(base + path)).GET());
  }

  Reply post(String path, String body) throws IOException, InterruptedException {
    return send(
        HttpRequest.newBuilder(URI.create(base + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  Reply post(String path, JsonNode body) throws IOException, InterruptedException {
    return post(path, JSON.writeValueAsString(body));
  }

  private Reply send(HttpRequest.Builder request) throws IOException, InterruptedException {
    HttpResponse<String> r =
        http.send(
            request.timeout(Duration.ofMinutes(2)).build(), HttpResponse.BodyHandlers.ofString());
    return new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
  }
}
