package sh.kaito.provisioner.azure;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A local stand-in for ARM's AKS Agent Pools API, written from its documentation (REST reference
 * "Agent Pools - Create Or Update / Get / Delete / List", Microsoft.ContainerService): the path
 * shape, the required {@code api-version} and bearer token, 200/201 on PUT with {@code
 * provisioningState} {@code Creating}, 202 on DELETE then {@code Deleting}, 204 for deleting what
 * is not there, 404 {@code NotFound}, and ARM's {@code {"error":{"code","message"}}} shape.
 * Long-running operations finish when the test calls {@link #finishOperations()}.
 */
final class FakeAgentPoolsServer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern PATH =
      Pattern.compile(
          "/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\\.ContainerService"
              + "/managedClusters/([^/]+)/agentPools(?:/([^/]+))?");

  private final HttpServer server;
  private final Map<String, ObjectNode> pools = new LinkedHashMap<>();
  final List<String> requests = new ArrayList<>();

  /** VM sizes the fake region does not offer: PUT answers 400 as ARM does. */
  final Set<String> unavailableSizes = new java.util.HashSet<>();

  /** When set, every request answers this status (throttling, outages). */
  volatile int forceStatus;

  FakeAgentPoolsServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::handle);
    server.start();
  }

  URI endpoint() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  synchronized void finishOperations() {
    pools.values().removeIf(p -> "Deleting".equals(state(p)));
    for (ObjectNode p : pools.values()) {
      if ("Creating".equals(state(p))) {
        ((ObjectNode) p.get("properties")).put("provisioningState", "Succeeded");
      }
    }
  }

  synchronized void addForeignPool(String name) {
    ObjectNode p = JSON.createObjectNode().put("name", name);
    p.putObject("properties")
        .put("provisioningState", "Succeeded")
        .put("vmSize", "Standard_D4s_v5");
    pools.put(name, p);
  }

  synchronized long count(String methodAndPrefix) {
    return requests.stream().filter(r -> r.startsWith(methodAndPrefix)).count();
  }

  private static String state(JsonNode p) {
    return p.path("properties").path("provisioningState").asText();
  }

  private synchronized void handle(HttpExchange ex) throws IOException {
    String method = ex.getRequestMethod();
    String path = ex.getRequestURI().getPath();
    String query = ex.getRequestURI().getQuery();
    requests.add(method + " " + path);
    if (forceStatus != 0) {
      reply(ex, forceStatus, error("InternalServerError", "forced"));
      return;
    }
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    if (auth == null || !auth.startsWith("Bearer ") || auth.length() <= 7) {
      reply(ex, 401, error("AuthenticationFailed", "missing bearer token"));
      return;
    }
    if (query == null
        || !query.matches("(^|.*&)api-version=[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?(&.*|$)")) {
      reply(ex, 400, error("MissingApiVersionParameter", "api-version is required"));
      return;
    }
    Matcher m = PATH.matcher(path);
    if (!m.matches()) {
      reply(ex, 404, error("InvalidResourceType", path));
      return;
    }
    String name = m.group(4);
    if (name == null) {
      if (!method.equals("GET")) {
        reply(ex, 405, error("MethodNotAllowed", method));
        return;
      }
      ObjectNode list = JSON.createObjectNode();
      var value = list.putArray("value");
      pools.values().forEach(value::add);
      reply(ex, 200, list.toString());
      return;
    }
    ObjectNode pool = pools.get(name);
    switch (method) {
      case "GET" -> {
        if (pool == null) {
          reply(ex, 404, error("NotFound", "agent pool " + name + " not found"));
        } else {
          reply(ex, 200, pool.toString());
        }
      }
      case "PUT" -> {
        JsonNode body = JSON.readTree(ex.getRequestBody());
        String vmSize = body.path("properties").path("vmSize").asText("");
        if (vmSize.isEmpty() || unavailableSizes.contains(vmSize)) {
          reply(
              ex,
              400,
              error(
                  "InvalidParameter",
                  "The VM size of " + vmSize + " is not allowed in your subscription"));
          return;
        }
        if (pool != null && !"Succeeded".equals(state(pool))) {
          reply(
              ex,
              409,
              error(
                  "OperationNotAllowed",
                  "Operation is not allowed: another operation is in progress"));
          return;
        }
        ObjectNode created = JSON.createObjectNode().put("name", name).put("id", path);
        ObjectNode props = ((ObjectNode) body.path("properties")).deepCopy();
        props.put("provisioningState", "Creating");
        created.set("properties", props);
        pools.put(name, created);
        reply(ex, pool == null ? 201 : 200, created.toString());
      }
      case "DELETE" -> {
        if (pool == null) {
          reply(ex, 204, "");
          return;
        }
        ((ObjectNode) pool.get("properties")).put("provisioningState", "Deleting");
        reply(ex, 202, "");
      }
      default -> reply(ex, 405, error("MethodNotAllowed", method));
    }
  }

  private static String error(String code, String message) {
    ObjectNode e = JSON.createObjectNode();
    e.putObject("error").put("code", code).put("message", message);
    return e.toString();
  }

  private static void reply(HttpExchange ex, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
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
