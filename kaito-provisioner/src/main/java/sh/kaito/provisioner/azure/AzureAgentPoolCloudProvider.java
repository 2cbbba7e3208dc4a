package sh.kaito.provisioner.azure;

import com.azure.core.exception.HttpResponseException;
import com.azure.core.management.exception.ManagementError;
import com.azure.core.management.exception.ManagementException;
import com.azure.core.management.polling.PollResult;
import com.azure.core.util.polling.LongRunningOperationStatus;
import com.azure.core.util.polling.PollResponse;
import com.azure.core.util.polling.SyncPoller;
import com.azure.resourcemanager.containerservice.fluent.AgentPoolsClient;
import com.azure.resourcemanager.containerservice.fluent.models.AgentPoolInner;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.Instance;
import sh.kaito.provisioner.cloud.LaunchException;

/**
 * One NodeClaim → one AKS agent pool of one VM, through the Azure SDK's agent pools client,
 * following gpu-provisioner (contract §6.1–6.3).
 *
 * <p><b>Tested against local fakes of the documented REST APIs</b> (ARM's agent pools and
 * long-running operations, Entra ID's token endpoint; {@code AzureAgentPoolCloudProviderTest}), not
 * against Azure.
 *
 * <p>Unlike upstream it never blocks on a long-running operation: {@link #create} sends the PUT
 * once and keeps the SDK's poller; each later call polls the operation once ({@code
 * Azure-AsyncOperation}) and answers "pending" ({@code Launched=Unknown}) until it succeeded and
 * the pool's Node (labels {@code agentpool} and {@code kubernetes.azure.com/agentpool} = the pool
 * name, with a {@code providerID}) has joined. A failed operation's ARM error code and message
 * become the launch failure's reason and message, verbatim. The controller calls again on its own
 * schedule. Pollers live in memory: after a restart the pool's {@code provisioningState} is read
 * instead. HTTP-level throttling (429) and server errors (5xx) are retried by the SDK's pipeline,
 * honouring {@code Retry-After}.
 */
public final class AzureAgentPoolCloudProvider implements CloudProvider {
  private static final Logger log = LoggerFactory.getLogger(AzureAgentPoolCloudProvider.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What a Kubernetes condition accepts as a reason; ARM's codes normally are. */
  private static final Pattern REASON = Pattern.compile("^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$");

  private final AgentPoolsClient pools;
  private final String resourceGroup;
  private final String cluster;
  private final Function<String, Optional<Node>> nodeOfPool;
  private final Map<String, SyncPoller<PollResult<AgentPoolInner>, AgentPoolInner>> creating =
      new ConcurrentHashMap<>();

  /**
   * @param nodeOfPool the Node of an agent pool by pool name, once it has joined
   */
  public AzureAgentPoolCloudProvider(
      AgentPoolsClient pools,
      String resourceGroup,
      String cluster,
      Function<String, Optional<Node>> nodeOfPool) {
    this.pools = pools;
    this.resourceGroup = resourceGroup;
    this.cluster = cluster;
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
    try {
      return createOrFollow(claim);
    } catch (ManagementException e) {
      int status = e.getResponse() == null ? 0 : e.getResponse().getStatusCode();
      if (status == 401 || status == 403) {
        // The provisioner's identity lacks a role: fixable without touching the claim, so the
        // user reads it on the claim and it is retried with backoff.
        ArmError err = ArmError.of(e);
        throw LaunchException.retryable(reason(err.code()), err.message());
      }
      throw e; // 429 or 5xx after the pipeline's retries: transient.
    }
  }

  private Instance createOrFollow(NodeClaim claim) throws LaunchException {
    String name = claim.getMetadata().getName();
    AgentPoolInner body = AgentPools.agentPool(claim);
    SyncPoller<PollResult<AgentPoolInner>, AgentPoolInner> operation = creating.get(name);
    if (operation != null) {
      followOperation(name, operation);
    }
    Optional<AgentPoolInner> existing = getPool(name);
    if (existing.isEmpty()) {
      startCreate(name, body);
      throw LaunchException.pending(
          "AgentPoolCreating", "agent pool " + name + " is being created");
    }
    AgentPoolInner pool = existing.get();
    String state = state(pool);
    if ("Failed".equalsIgnoreCase(state)) {
      throw LaunchException.permanent(
          "AgentPoolFailed",
          "agent pool "
              + name
              + " is in provisioningState Failed; delete the NodeClaim (Kaito creates a new one)");
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

  /** One poll of the create operation; returns when it succeeded, throws while it is not done. */
  private void followOperation(
      String name, SyncPoller<PollResult<AgentPoolInner>, AgentPoolInner> operation)
      throws LaunchException {
    PollResponse<PollResult<AgentPoolInner>> r = operation.poll();
    LongRunningOperationStatus status = r.getStatus();
    if (!status.isComplete()) {
      throw LaunchException.pending(
          "AgentPoolCreating", "agent pool " + name + " is being created (" + status + ")");
    }
    creating.remove(name);
    if (status == LongRunningOperationStatus.SUCCESSFULLY_COMPLETED) {
      log.info("event=AgentPoolCreated nodeclaim={} pool={}", name, name);
      return;
    }
    PollResult.Error error = r.getValue() == null ? null : r.getValue().getError();
    ArmError e =
        error == null
            ? new ArmError("AgentPoolFailed", "creating agent pool " + name + " " + status)
            : ArmError.of(error.getResponseBody(), error.getMessage());
    log.warn(
        "event=AgentPoolCreateFailed nodeclaim={} pool={} code={} message=\"{}\"",
        name,
        name,
        e.code(),
        e.message());
    throw LaunchException.permanent(reason(e.code()), e.message());
  }

  private void startCreate(String name, AgentPoolInner body) throws LaunchException {
    try {
      creating.put(name, pools.beginCreateOrUpdate(resourceGroup, cluster, name, body));
    } catch (ManagementException e) {
      int status = e.getResponse() == null ? 0 : e.getResponse().getStatusCode();
      ArmError err = ArmError.of(e);
      if (status == 409) {
        // "another operation is in progress" (a restart mid-create): upstream treats it as
        // success; the pool's provisioningState tells the rest.
        throw LaunchException.pending("AgentPoolCreating", err.message());
      }
      if (status == 400 || status == 404) {
        // The request cannot succeed as it is: quota, an unavailable size, a bad parameter.
        throw LaunchException.permanent(reason(err.code()), err.message());
      }
      throw e;
    }
    log.info("event=AgentPoolCreating nodeclaim={} pool={} vmSize={}", name, name, body.vmSize());
  }

  @Override
  public Optional<Instance> get(NodeClaim claim) {
    String name = claim.getMetadata().getName();
    return getPool(name).map(p -> instance(name, p, nodeOfPool.apply(name).orElse(null)));
  }

  @Override
  public void delete(NodeClaim claim) {
    String name = claim.getMetadata().getName();
    creating.remove(name);
    Optional<AgentPoolInner> pool = getPool(name);
    if (pool.isEmpty() || "Deleting".equalsIgnoreCase(state(pool.get()))) {
      return;
    }
    try {
      // Sends the DELETE; its operation is observed through get(), not waited for.
      pools.beginDelete(resourceGroup, cluster, name);
    } catch (ManagementException e) {
      if (e.getResponse() == null || e.getResponse().getStatusCode() != 404) {
        throw e;
      }
    }
    log.info("event=AgentPoolDeleting nodeclaim={} pool={}", name, name);
  }

  @Override
  public List<Instance> list() {
    List<Instance> out = new ArrayList<>();
    for (AgentPoolInner pool : pools.list(resourceGroup, cluster)) {
      if (AgentPools.ownedByKaito(pool.nodeLabels())) {
        String name = pool.name();
        out.add(instance(name, pool, nodeOfPool.apply(name).orElse(null)));
      }
    }
    return out;
  }

  private Instance instance(String name, AgentPoolInner pool, Node node) {
    return new Instance(
        name,
        node == null ? null : node.getSpec().getProviderID(),
        node == null ? null : node.getMetadata().getName(),
        pool.vmSize(),
        node == null || node.getStatus() == null || node.getStatus().getCapacity() == null
            ? Map.of()
            : node.getStatus().getCapacity(),
        node == null || node.getStatus() == null || node.getStatus().getAllocatable() == null
            ? Map.of()
            : node.getStatus().getAllocatable(),
        AgentPools.creationTime(pool.nodeLabels()),
        state(pool).toLowerCase(Locale.ROOT).contains("deleting"));
  }

  private Optional<AgentPoolInner> getPool(String name) {
    try {
      return Optional.of(pools.get(resourceGroup, cluster, name));
    } catch (ManagementException e) {
      if (e.getResponse() != null && e.getResponse().getStatusCode() == 404) {
        return Optional.empty();
      }
      throw e;
    }
  }

  private static String state(AgentPoolInner pool) {
    return pool.provisioningState() == null ? "" : pool.provisioningState();
  }

  private static String reason(String armCode) {
    return armCode != null && REASON.matcher(armCode).matches() ? armCode : "AgentPoolFailed";
  }

  /** ARM's error: {@code {"error": {"code": "...", "message": "..."}}}. */
  record ArmError(String code, String message) {
    static ArmError of(HttpResponseException e) {
      if (e instanceof ManagementException m && m.getValue() != null) {
        ManagementError v = m.getValue();
        return new ArmError(v.getCode(), v.getMessage());
      }
      return new ArmError("Unknown", e.getMessage());
    }

    /** From an operation's body ({@code {"status": "Failed", "error": {...}}}) or ARM's error. */
    static ArmError of(String body, String fallback) {
      try {
        JsonNode e = JSON.readTree(body == null ? "" : body).path("error");
        if (e.hasNonNull("code") || e.hasNonNull("message")) {
          return new ArmError(e.path("code").asText("Unknown"), e.path("message").asText(""));
        }
      } catch (IOException | RuntimeException ex) {
        // Not JSON: fall through to the SDK's description.
      }
      return new ArmError("AgentPoolFailed", fallback);
    }
  }
}
