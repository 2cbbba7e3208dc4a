package sh.kaito.provisioner.azure;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.Instance;
import sh.kaito.provisioner.cloud.LaunchException;

/**
 * One NodeClaim → one AKS agent pool of one VM, through the AKS Agent Pools REST API ({@code
 * PUT/GET/DELETE .../managedClusters/{cluster}/agentPools/{name}?api-version=...}), following
 * gpu-provisioner's behaviour (contract §6.1–6.3).
 *
 * <p><b>Tested only against a local fake server written from the documented API</b> ({@code
 * AzureAgentPoolCloudProviderTest}); it has never talked to Azure. Authentication is a bearer token
 * supplier; workload identity (token exchange) is not implemented. Not wired into {@code
 * ProvisionerMain} yet.
 *
 * <p>Unlike upstream it never blocks: {@link #create} sends the PUT once and then reports "pending"
 * ({@code Launched=Unknown}) until the pool's {@code provisioningState} is {@code Succeeded} and
 * its Node (labels {@code agentpool} and {@code kubernetes.azure.com/agentpool} = the pool name,
 * with a {@code providerID}) has joined; the controller asks again every few seconds.
 */
public final class AzureAgentPoolCloudProvider implements CloudProvider {
  private static final Logger log = LoggerFactory.getLogger(AzureAgentPoolCloudProvider.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * @param endpoint ARM, {@code https://management.azure.com} in Azure's public cloud
   * @param apiVersion e.g. {@code 2024-09-01}
   */
  public record Config(
      URI endpoint,
      String subscriptionId,
      String resourceGroup,
      String clusterName,
      String apiVersion) {}

  private final Config config;
  private final Supplier<String> token;
  private final Function<String, Optional<Node>> nodeOfPool;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  /**
   * @param token a bearer token for ARM, asked for on every request
   * @param nodeOfPool the Node of an agent pool by pool name, once it has joined
   */
  public AzureAgentPoolCloudProvider(
      Config config, Supplier<String> token, Function<String, Optional<Node>> nodeOfPool) {
    this.config = config;
    this.token = token;
    this.nodeOfPool = nodeOfPool;
  }

  /** Nodes are found as upstream finds them: exactly one with both agent-pool labels. */
  public static Function<String, Optional<Node>> nodesFrom(KubernetesClient client) {
    return pool -> {
      List<Node> nodes =
          client
              .nodes()
              .withLabel("agentpool", pool)
              .withLabel("kubernetes.azure.com/agentpool", pool)
              .list()
              .getItems()
              .stream()
              .filter(n -> n.getSpec() != null && n.getSpec().getProviderID() != null)
              .toList();
      return nodes.size() == 1 ? Optional.of(nodes.get(0)) : Optional.empty();
    };
  }

  @Override
  public String name() {
    return "azure";
  }

  @Override
  public Instance create(NodeClaim claim) throws LaunchException {
    String name = claim.getMetadata().getName();
    var body = AgentPools.agentPool(claim);
    Optional<JsonNode> existing = getPool(name);
    if (existing.isEmpty()) {
      HttpResponse<String> r = send("PUT", poolUri(name), body.toString());
      if (r.statusCode() == 400) {
        Error e = error(r);
        throw LaunchException.permanent("AgentPoolRefused", e.code() + ": " + e.message());
      }
      if (r.statusCode() == 409) {
        // "another operation is in progress": upstream treats it as success after a restart.
        throw LaunchException.pending("AgentPoolCreating", error(r).message());
      }
      expect(r, 200, 201);
      log.info(
          "event=AgentPoolCreating nodeclaim={} pool={} vmSize={}",
          name,
          name,
          body.path("properties").path("vmSize").asText());
      throw LaunchException.pending(
          "AgentPoolCreating", "agent pool " + name + " is being created");
    }
    JsonNode pool = existing.get();
    String state = state(pool);
    if ("Failed".equalsIgnoreCase(state)) {
      throw LaunchException.permanent(
          "AgentPoolFailed", "agent pool " + name + " is in provisioningState Failed");
    }
    if (!"Succeeded".equalsIgnoreCase(state)) {
      throw LaunchException.pending(
          "AgentPoolCreating", "agent pool " + name + " is in provisioningState " + state);
    }
    Optional<Node> node = nodeOfPool.apply(name);
    if (node.isEmpty()) {
      throw LaunchException.pending(
          "NodeNotJoined", "agent pool " + name + " is ready; waiting for its node to join");
    }
    return instance(name, pool, node.get());
  }

  @Override
  public Optional<Instance> get(NodeClaim claim) {
    String name = claim.getMetadata().getName();
    return getPool(name).map(p -> instance(name, p, nodeOfPool.apply(name).orElse(null)));
  }

  @Override
  public void delete(NodeClaim claim) {
    String name = claim.getMetadata().getName();
    Optional<JsonNode> pool = getPool(name);
    if (pool.isEmpty() || "Deleting".equalsIgnoreCase(state(pool.get()))) {
      return;
    }
    HttpResponse<String> r = send("DELETE", poolUri(name), null);
    if (r.statusCode() != 404) {
      expect(r, 200, 202, 204);
    }
    log.info("event=AgentPoolDeleting nodeclaim={} pool={}", name, name);
  }

  @Override
  public List<Instance> list() {
    List<Instance> out = new ArrayList<>();
    URI uri = poolsUri();
    while (uri != null) {
      HttpResponse<String> r = send("GET", uri, null);
      expect(r, 200);
      JsonNode page = parse(r.body());
      for (JsonNode pool : page.path("value")) {
        Map<String, String> labels = labels(pool);
        if (AgentPools.ownedByKaito(labels)) {
          String name = pool.path("name").asText();
          out.add(instance(name, pool, nodeOfPool.apply(name).orElse(null)));
        }
      }
      String next = page.path("nextLink").asText(null);
      uri = next == null || next.isEmpty() ? null : URI.create(next);
    }
    return out;
  }

  private Instance instance(String name, JsonNode pool, Node node) {
    Map<String, String> labels = labels(pool);
    return new Instance(
        name,
        node == null ? null : node.getSpec().getProviderID(),
        node == null ? null : node.getMetadata().getName(),
        pool.path("properties").path("vmSize").asText(null),
        node == null || node.getStatus() == null || node.getStatus().getCapacity() == null
            ? Map.of()
            : node.getStatus().getCapacity(),
        node == null || node.getStatus() == null || node.getStatus().getAllocatable() == null
            ? Map.of()
            : node.getStatus().getAllocatable(),
        AgentPools.creationTime(labels),
        state(pool).toLowerCase(java.util.Locale.ROOT).contains("deleting"));
  }

  private Optional<JsonNode> getPool(String name) {
    HttpResponse<String> r = send("GET", poolUri(name), null);
    if (r.statusCode() == 404) {
      return Optional.empty();
    }
    expect(r, 200);
    return Optional.of(parse(r.body()));
  }

  private static String state(JsonNode pool) {
    return pool.path("properties").path("provisioningState").asText("");
  }

  private static Map<String, String> labels(JsonNode pool) {
    JsonNode l = pool.path("properties").path("nodeLabels");
    return l.isObject()
        ? JSON.convertValue(l, new TypeReference<Map<String, String>>() {})
        : Map.of();
  }

  private URI poolsUri() {
    return URI.create(
        config.endpoint().toString().replaceAll("/$", "")
            + "/subscriptions/"
            + enc(config.subscriptionId())
            + "/resourceGroups/"
            + enc(config.resourceGroup())
            + "/providers/Microsoft.ContainerService/managedClusters/"
            + enc(config.clusterName())
            + "/agentPools?api-version="
            + enc(config.apiVersion()));
  }

  private URI poolUri(String name) {
    String s = poolsUri().toString();
    int q = s.indexOf('?');
    return URI.create(s.substring(0, q) + "/" + enc(name) + s.substring(q));
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private HttpResponse<String> send(String method, URI uri, String body) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + token.get())
            .header("Accept", "application/json");
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    try {
      return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(method + " " + uri.getPath() + " failed", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Anything else (429, 5xx, an unexpected code) is transient for the controller: retried. */
  private static void expect(HttpResponse<String> r, int... ok) {
    for (int code : ok) {
      if (r.statusCode() == code) {
        return;
      }
    }
    Error e = error(r);
    throw new IllegalStateException(
        "ARM "
            + r.request().method()
            + " returned "
            + r.statusCode()
            + " "
            + e.code()
            + ": "
            + e.message());
  }

  record Error(String code, String message) {}

  /** ARM's error shape: {@code {"error": {"code": "...", "message": "..."}}}. */
  static Error error(HttpResponse<String> r) {
    try {
      JsonNode e = JSON.readTree(r.body()).path("error");
      return new Error(e.path("code").asText("Unknown"), e.path("message").asText(""));
    } catch (IOException | RuntimeException ex) {
      return new Error("Unknown", r.body() == null ? "" : r.body());
    }
  }

  private static JsonNode parse(String body) {
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException("ARM sent invalid JSON", e);
    }
  }
}
