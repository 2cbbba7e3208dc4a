package sh.kaito.controller.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.yaml.KaitoYaml;

/**
 * The HTTPS endpoint the API server calls: {@code POST /validate/workspace.kaito.sh} with an {@code
 * admission.k8s.io/v1} AdmissionReview. Any request it cannot read is denied with a message, never
 * answered with a 500.
 */
public final class AdmissionServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AdmissionServer.class);
  public static final String PATH = "/validate/workspace.kaito.sh";
  private static final int MAX_BODY = 3 * 1024 * 1024;

  private final HttpsServer server;
  private final WorkspaceAdmission admission;
  private final ObjectMapper json = new ObjectMapper();

  private AdmissionServer(HttpsServer server, WorkspaceAdmission admission) {
    this.server = server;
    this.admission = admission;
  }

  /** Binds (does not start) the server on {@code host:port}; port 0 picks a free one. */
  public static AdmissionServer create(
      String host, int port, TlsMaterial tls, WorkspaceAdmission admission) throws IOException {
    HttpsServer server = HttpsServer.create(new InetSocketAddress(host, port), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(tls.serverContext()));
    server.setExecutor(
        Executors.newFixedThreadPool(
            4,
            r -> {
              Thread t = new Thread(r, "kaito-webhook");
              t.setDaemon(true);
              return t;
            }));
    AdmissionServer s = new AdmissionServer(server, admission);
    server.createContext(PATH, s::handle);
    return s;
  }

  public AdmissionServer start() {
    server.start();
    log.info("event=WebhookStarted address={} path={}", server.getAddress(), PATH);
    return this;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      if (!"POST".equals(exchange.getRequestMethod())) {
        respond(exchange, 405, "{\"error\":\"POST an AdmissionReview\"}");
        return;
      }
      byte[] body;
      try (InputStream in = exchange.getRequestBody()) {
        body = in.readNBytes(MAX_BODY + 1);
      }
      if (body.length > MAX_BODY) {
        respond(exchange, 413, "{\"error\":\"request too large\"}");
        return;
      }
      respond(exchange, 200, json.writeValueAsString(review(body)));
    }
  }

  /** The AdmissionReview response for a request body. */
  ObjectNode review(byte[] body) {
    ObjectNode response = json.createObjectNode();
    ObjectNode out = json.createObjectNode();
    out.put("apiVersion", "admission.k8s.io/v1");
    out.put("kind", "AdmissionReview");
    out.set("response", response);
    JsonNode request;
    try {
      request = json.readTree(body).path("request");
    } catch (IOException e) {
      return deny(out, response, "", "cannot read the AdmissionReview: " + e.getMessage());
    }
    String uid = request.path("uid").asText("");
    String operation = request.path("operation").asText("");
    try {
      Workspace workspace = KaitoYaml.mapper().treeToValue(request.path("object"), Workspace.class);
      if (workspace.getMetadata() != null && workspace.getMetadata().getNamespace() == null) {
        workspace.getMetadata().setNamespace(request.path("namespace").asText(null));
      }
      JsonNode oldNode = request.path("oldObject");
      Workspace old =
          oldNode.isObject() ? KaitoYaml.mapper().treeToValue(oldNode, Workspace.class) : null;
      WorkspaceAdmission.Decision d = admission.review(operation, workspace, old);
      response.put("uid", uid);
      response.put("allowed", d.allowed());
      if (!d.allowed()) {
        ObjectNode status = response.putObject("status");
        status.put("code", 403);
        status.put("reason", "Forbidden");
        status.put("message", d.message());
        log.info(
            "event=WorkspaceDenied operation={} workspace={}/{} reason=\"{}\"",
            operation,
            request.path("namespace").asText(),
            request.path("name").asText(),
            d.message().replace('\n', ';'));
      }
      if (!d.warnings().isEmpty()) {
        d.warnings().forEach(response.putArray("warnings")::add);
      }
      return out;
    } catch (IOException | IllegalArgumentException e) {
      return deny(out, response, uid, "cannot read the Workspace: " + e.getMessage());
    }
  }

  private static ObjectNode deny(ObjectNode out, ObjectNode response, String uid, String message) {
    response.put("uid", uid);
    response.put("allowed", false);
    ObjectNode status = response.putObject("status");
    status.put("code", 400);
    status.put("message", message);
    return out;
  }

  private static void respond(HttpExchange exchange, int code, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "application/json");
    exchange.sendResponseHeaders(code, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
