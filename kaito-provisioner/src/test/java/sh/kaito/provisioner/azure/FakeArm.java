package sh.kaito.provisioner.azure;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A local stand-in for Azure Resource Manager's AKS agent pools, written from the documented REST
 * API ("Agent Pools - Create Or Update / Get / Delete / List", Microsoft.ContainerService; "Track
 * asynchronous Azure operations"; "ARM throttling"): the path shape; a required {@code api-version}
 * and bearer token; PUT → 201 with {@code provisioningState: Creating} and an {@code
 * Azure-AsyncOperation} header; DELETE → 202 with {@code Azure-AsyncOperation} and {@code
 * Location}, 204 when there is nothing to delete; GET of a missing pool → 404 {@code NotFound};
 * List pages through {@code nextLink}; the operation's status document {@code {name, status:
 * InProgress | Succeeded | Failed, error: {code, message}}}; 429 with {@code Retry-After}
 * (seconds); ARM's {@code {"error": {"code", "message"}}} shape.
 *
 * <p>Time is counted in observations: an operation finishes after {@link #stepsPerOperation} polls
 * of its operation URL (a delete also advances on each GET of its pool, since the provider observes
 * deletions through the pool), or when the test calls {@link #finishOperations()}.
 */
final class FakeArm extends FakeHttps {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern POOLS =
      Pattern.compile(
          "/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\\.ContainerService"
              + "/managedClusters/([^/]+)/agentPools(?:/([^/]+))?");
  private static final Pattern OPERATION =
      Pattern.compile(
          "/subscriptions/([^/]+)/providers/Microsoft\\.ContainerService/locations/([^/]+)"
              + "/operations/([^/]+)");
  private static final int PAGE = 2;

  private static final class Operation {
    final String pool;
    final boolean delete;
    int remaining;
    String[] failure;
    String status = "InProgress";

    Operation(String pool, boolean delete, int remaining) {
      this.pool = pool;
      this.delete = delete;
      this.remaining = remaining;
    }
  }

  private final String subscription;
  private final Map<String, ObjectNode> pools = new LinkedHashMap<>();
  private final Map<String, Operation> operations = new HashMap<>();
  private final Map<String, String[]> createFailures = new HashMap<>();
  private int nextOperation;
  private int throttled;
  private int retryAfterSeconds;

  /** Observations before an operation finishes. */
  volatile int stepsPerOperation = 2;

  /** VM sizes the fake region does not offer: PUT answers 400 at once, as ARM does. */
  final Set<String> unavailableSizes = new HashSet<>();

  /** When set, every request answers this status with ARM's error shape (outages). */
  volatile int forceStatus;

  FakeArm(TestCa ca, String subscription) throws IOException {
    super(ca);
    this.subscription = subscription;
  }

  /** The create operation of this pool ends {@code Failed} with this ARM error. */
  synchronized void failCreate(String pool, String code, String message) {
    createFailures.put(pool, new String[] {code, message});
  }

  /** The next {@code count} requests answer 429 with {@code Retry-After: seconds}. */
  synchronized void throttle(int count, int seconds) {
    throttled = count;
    retryAfterSeconds = seconds;
  }

  synchronized void finishOperations() {
    for (Operation op : List.copyOf(operations.values())) {
      op.remaining = 1;
      advance(op);
    }
  }

  synchronized void addForeignPool(String name) {
    ObjectNode p = JSON.createObjectNode().put("name", name);
    p.putObject("properties")
        .put("provisioningState", "Succeeded")
        .put("vmSize", "Standard_D4s_v5");
    pools.put(name, p);
  }

  synchronized boolean hasPool(String name) {
    return pools.containsKey(name);
  }

  synchronized String provisioningState(String name) {
    ObjectNode p = pools.get(name);
    return p == null ? null : p.path("properties").path("provisioningState").asText();
  }

  private void advance(Operation op) {
    if (!"InProgress".equals(op.status) || --op.remaining > 0) {
      return;
    }
    ObjectNode pool = pools.get(op.pool);
    if (op.delete) {
      op.status = "Succeeded";
      pools.remove(op.pool);
      return;
    }
    op.failure = createFailures.get(op.pool);
    op.status = op.failure == null ? "Succeeded" : "Failed";
    if (pool != null) {
      ((ObjectNode) pool.get("properties")).put("provisioningState", op.status);
    }
  }

  @Override
  void handle(HttpExchange ex, Request r) throws IOException {
    if (forceStatus == 403) {
      reply(
          ex,
          403,
          error(
              "AuthorizationFailed",
              "The client 'client-1' with object id 'oid-1' does not have authorization to perform"
                  + " action 'Microsoft.ContainerService/managedClusters/agentPools/read' over"
                  + " scope '"
                  + r.path()
                  + "' or the scope is invalid."));
      return;
    }
    if (forceStatus != 0) {
      reply(ex, forceStatus, error("InternalServerError", "the fake is told to fail"));
      return;
    }
    if (throttled > 0) {
      throttled--;
      reply(
          ex,
          429,
          error("TooManyRequests", "The request is being throttled."),
          "Retry-After",
          Integer.toString(retryAfterSeconds));
      return;
    }
    String auth = r.header("Authorization");
    if (auth == null || !auth.equals("Bearer " + FakeEntraId.ACCESS_TOKEN)) {
      reply(ex, 401, error("InvalidAuthenticationToken", "The access token is invalid."));
      return;
    }
    if (r.query() == null
        || !r.query().matches("(^|.*&)api-version=[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?(&.*|$)")) {
      reply(ex, 400, error("MissingApiVersionParameter", "The api-version is required."));
      return;
    }
    Matcher op = OPERATION.matcher(r.path());
    if (op.matches() && r.method().equals("GET")) {
      operation(ex, op.group(3));
      return;
    }
    Matcher m = POOLS.matcher(r.path());
    if (!m.matches() || !m.group(1).equals(subscription)) {
      reply(ex, 404, error("InvalidResourceType", r.path()));
      return;
    }
    String name = m.group(4);
    if (name == null) {
      list(ex, r);
      return;
    }
    switch (r.method()) {
      case "GET" -> get(ex, name);
      case "PUT" -> put(ex, r, name);
      case "DELETE" -> delete(ex, r, name);
      default -> reply(ex, 405, error("MethodNotAllowed", r.method()));
    }
  }

  private void operation(HttpExchange ex, String id) throws IOException {
    Operation op = operations.get(id);
    if (op == null) {
      reply(ex, 404, error("NotFound", "operation " + id + " not found"));
      return;
    }
    advance(op);
    ObjectNode doc = JSON.createObjectNode().put("name", id).put("status", op.status);
    if (op.failure != null) {
      doc.putObject("error").put("code", op.failure[0]).put("message", op.failure[1]);
    }
    reply(ex, 200, doc.toString());
  }

  private void list(HttpExchange ex, Request r) throws IOException {
    int skip = 0;
    Matcher s = Pattern.compile("(?:^|&)\\$skipToken=(\\d+)").matcher(r.query());
    if (s.find()) {
      skip = Integer.parseInt(s.group(1));
    }
    List<ObjectNode> all = List.copyOf(pools.values());
    ObjectNode page = JSON.createObjectNode();
    var value = page.putArray("value");
    all.stream().skip(skip).limit(PAGE).forEach(value::add);
    if (skip + PAGE < all.size()) {
      page.put(
          "nextLink",
          endpoint().resolve(r.path()) + "?api-version=2025-01-01&$skipToken=" + (skip + PAGE));
    }
    reply(ex, 200, page.toString());
  }

  private void get(HttpExchange ex, String name) throws IOException {
    for (Operation op : List.copyOf(operations.values())) {
      if (op.delete && op.pool.equals(name)) {
        advance(op);
      }
    }
    ObjectNode pool = pools.get(name);
    if (pool == null) {
      reply(
          ex,
          404,
          error("NotFound", "Could not find the agent pool " + name + " in the managed cluster."));
    } else {
      reply(ex, 200, pool.toString());
    }
  }

  private void put(HttpExchange ex, Request r, String name) throws IOException {
    JsonNode body = JSON.readTree(r.body());
    String vmSize = body.path("properties").path("vmSize").asText("");
    if (vmSize.isEmpty() || unavailableSizes.contains(vmSize)) {
      reply(
          ex,
          400,
          error(
              "InvalidParameter",
              "The VM size of "
                  + vmSize
                  + " is not allowed in your subscription in location 'eastus'."));
      return;
    }
    ObjectNode existing = pools.get(name);
    String state =
        existing == null ? null : existing.path("properties").path("provisioningState").asText();
    if (existing != null && !"Succeeded".equals(state) && !"Failed".equals(state)) {
      reply(
          ex,
          409,
          error(
              "OperationNotAllowed",
              "Operation is not allowed because there's an in progress create node pool"
                  + " operation."));
      return;
    }
    ObjectNode created = JSON.createObjectNode().put("name", name).put("id", r.path());
    ObjectNode props = ((ObjectNode) body.path("properties")).deepCopy();
    props.put("provisioningState", "Creating");
    created.set("properties", props);
    pools.put(name, created);
    String id = start(name, false);
    reply(ex, existing == null ? 201 : 200, created.toString(), "Azure-AsyncOperation", opUrl(id));
  }

  private void delete(HttpExchange ex, Request r, String name) throws IOException {
    ObjectNode pool = pools.get(name);
    if (pool == null) {
      reply(ex, 204, "");
      return;
    }
    ((ObjectNode) pool.get("properties")).put("provisioningState", "Deleting");
    String id = start(name, true);
    reply(ex, 202, "", "Azure-AsyncOperation", opUrl(id), "Location", opUrl(id));
  }

  private String start(String pool, boolean delete) {
    String id = "op-" + (++nextOperation);
    operations.put(id, new Operation(pool, delete, stepsPerOperation));
    return id;
  }

  private String opUrl(String id) {
    return endpoint()
        + "subscriptions/"
        + subscription
        + "/providers/Microsoft.ContainerService/locations/eastus/operations/"
        + id
        + "?api-version=2017-08-31";
  }

  private static String error(String code, String message) {
    ObjectNode e = JSON.createObjectNode();
    e.putObject("error").put("code", code).put("message", message);
    return e.toString();
  }
}
