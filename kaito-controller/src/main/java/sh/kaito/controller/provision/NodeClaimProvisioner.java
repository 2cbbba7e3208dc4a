package sh.kaito.controller.provision;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions.Reasons;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.ControllerOptions;
import sh.kaito.controller.manifests.NodeClaims;
import sh.kaito.controller.runtime.EventRecorder;
import sh.kaito.controller.status.Verdict;
import sh.kaito.presets.sku.SkuTable;

/**
 * Kaito's default: one Karpenter {@code NodeClaim} per node, fulfilled by a provisioner
 * (gpu-provisioner on Azure, kaito-provisioner, or a test's). Claims have deterministic names
 * ({@link NodeClaims#name}), so creating one twice is refused by the API server rather than making
 * a second VM.
 */
public final class NodeClaimProvisioner implements NodeProvisioner {
  private static final Logger log = LoggerFactory.getLogger(NodeClaimProvisioner.class);
  private static final int MAX_MESSAGE = 256;

  private final KubernetesClient client;
  private final ClusterView view;
  private final ControllerOptions options;
  private final EventRecorder events;
  private final SkuTable skus;

  /** Nodes whose labelling failed and was logged once (no RBAC to patch nodes, for instance). */
  private final Set<String> labelFailuresLogged = ConcurrentHashMap.newKeySet();

  /**
   * @param skus the known GPU SKUs: only their nodes get {@code accelerator=nvidia}
   */
  public NodeClaimProvisioner(
      KubernetesClient client,
      ClusterView view,
      ControllerOptions options,
      EventRecorder events,
      SkuTable skus) {
    this.client = client;
    this.view = view;
    this.options = options;
    this.events = events;
    this.skus = skus;
  }

  @Override
  public void provision(Workspace workspace, int target, String storage) {
    Set<String> existing = new HashSet<>();
    for (NodeClaim c : view.nodeClaims(workspace)) {
      existing.add(c.getMetadata().getName());
    }
    for (int i = 0; i < target; i++) {
      String name = NodeClaims.name(workspace, i);
      if (existing.contains(name)) {
        continue;
      }
      NodeClaim claim = NodeClaims.desired(workspace, i, storage, options);
      try {
        client.resources(NodeClaim.class).resource(claim).create();
        log.info(
            "event=NodeClaimCreated workspace={}/{} nodeclaim={} instanceType={}",
            workspace.getMetadata().getNamespace(),
            workspace.getMetadata().getName(),
            name,
            workspace.getResource().instanceType());
        events.normal(workspace, "NodeClaimCreated", "created NodeClaim " + name);
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          continue; // Already there: our cache had not seen it yet.
        }
        events.warning(
            workspace,
            "NodeClaimCreationFailed",
            "cannot create NodeClaim " + name + ": " + e.getMessage());
        throw e;
      }
    }
  }

  @Override
  public NodeReadiness readiness(Workspace workspace, int target) {
    List<NodeClaim> claims =
        view.nodeClaims(workspace).stream()
            .filter(c -> c.getMetadata().getDeletionTimestamp() == null)
            .toList();
    List<NodeClaim> ready = claims.stream().filter(NodeClaimProvisioner::isReady).toList();
    Verdict claimVerdict;
    if (ready.size() >= target) {
      claimVerdict = Verdict.ok(Reasons.NODE_CLAIMS_READY, "Enough NodeClaims are ready");
    } else {
      claimVerdict =
          firstLifecycleFailure(claims)
              .orElse(
                  Verdict.notOk(Reasons.NODE_CLAIM_NOT_READY, "Ready NodeClaims are not enough"));
    }

    String instanceType = workspace.getResource().instanceType();
    List<Node> candidates = new ArrayList<>();
    for (NodeClaim c : ready) {
      String nodeName = c.getStatus() == null ? null : c.getStatus().getNodeName();
      Node node = nodeName == null ? null : view.node(nodeName);
      if (node != null) {
        candidates.add(node);
      }
    }
    if (instanceType != null && skus.find(instanceType).isPresent()) {
      candidates.stream()
          .filter(Nodes::needsAcceleratorLabel)
          .forEach(node -> labelAccelerator(workspace, node));
    }
    Nodes.Gate gate = Nodes.gate(candidates, instanceType, target, "Not enough Nodes are ready");
    Verdict nodesVerdict = gate.verdict();
    List<String> workers = gate.workers();
    boolean poll = claimVerdict.ok() && !nodesVerdict.ok();
    return new NodeReadiness(claimVerdict, nodesVerdict, workers, poll);
  }

  /**
   * Adds {@code accelerator=nvidia} to a node of the workspace's NodeClaims (a merge patch of that
   * one label). Best effort: the label is a convention, the readiness signal is the GPU capacity,
   * so a refused patch is logged once per node and serving goes on.
   */
  private void labelAccelerator(Workspace workspace, Node node) {
    String name = node.getMetadata().getName();
    String patch =
        "{\"metadata\":{\"labels\":{\""
            + WorkspaceLabels.ACCELERATOR
            + "\":\""
            + WorkspaceLabels.ACCELERATOR_NVIDIA
            + "\"}}}";
    try {
      client.nodes().withName(name).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
      log.info(
          "event=NodeLabelled workspace={}/{} node={} label={}={}",
          workspace.getMetadata().getNamespace(),
          workspace.getMetadata().getName(),
          name,
          WorkspaceLabels.ACCELERATOR,
          WorkspaceLabels.ACCELERATOR_NVIDIA);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404 && labelFailuresLogged.add(name)) {
        log.warn(
            "event=NodeLabelFailed node={} label={}={} code={} error=\"{}\"",
            name,
            WorkspaceLabels.ACCELERATOR,
            WorkspaceLabels.ACCELERATOR_NVIDIA,
            e.getCode(),
            e.getMessage());
      }
    }
  }

  static boolean isReady(NodeClaim c) {
    if (c.getStatus() == null) {
      return false;
    }
    List<Condition> conditions = c.getStatus().getConditions();
    boolean hasReady =
        conditions != null
            && conditions.stream().anyMatch(k -> KarpenterConditions.READY.equals(k.getType()));
    if (hasReady) {
      return conditions.stream()
          .anyMatch(
              k -> KarpenterConditions.READY.equals(k.getType()) && "True".equals(k.getStatus()));
    }
    return c.getStatus().getNodeName() != null && !c.getStatus().getNodeName().isEmpty();
  }

  /**
   * The first non-True lifecycle condition (Launched, Registered, Initialized) of any claim, real
   * errors preferred over "waiting" ones: what tells a user why no node comes (upstream #344).
   */
  static java.util.Optional<Verdict> firstLifecycleFailure(List<NodeClaim> claims) {
    Verdict waiting = null;
    for (String type : KarpenterConditions.LIFECYCLE) {
      for (NodeClaim claim : claims) {
        if (claim.getStatus() == null || claim.getStatus().getConditions() == null) {
          continue;
        }
        for (Condition k : claim.getStatus().getConditions()) {
          if (!type.equals(k.getType()) || "True".equals(k.getStatus())) {
            continue;
          }
          String reason = k.getReason() == null || k.getReason().isEmpty() ? type : k.getReason();
          String message =
              "NodeClaim "
                  + claim.getMetadata().getName()
                  + " is not "
                  + type
                  + (k.getMessage() == null || k.getMessage().isEmpty()
                      ? ""
                      : ": " + k.getMessage());
          if (message.length() > MAX_MESSAGE) {
            message = message.substring(0, MAX_MESSAGE);
          }
          Verdict v = Verdict.notOk(reason, message);
          boolean isWaiting =
              "Unknown".equals(k.getStatus())
                  || "AwaitingReconciliation".equals(reason)
                  || "NotLaunched".equals(reason)
                      && (k.getMessage() == null || k.getMessage().isEmpty());
          if (!isWaiting) {
            return java.util.Optional.of(v);
          }
          if (waiting == null) {
            waiting = v;
          }
        }
      }
    }
    return java.util.Optional.ofNullable(waiting);
  }

  @Override
  public int release(Workspace workspace) {
    List<NodeClaim> claims = view.nodeClaims(workspace);
    for (NodeClaim c : claims) {
      if (c.getMetadata().getDeletionTimestamp() != null) {
        continue;
      }
      try {
        client.resources(NodeClaim.class).withName(c.getMetadata().getName()).delete();
        log.info(
            "event=NodeClaimDeleted workspace={}/{} nodeclaim={}",
            workspace.getMetadata().getNamespace(),
            workspace.getMetadata().getName(),
            c.getMetadata().getName());
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          throw e;
        }
      }
    }
    return claims.size();
  }

  @Override
  public List<NodeSelectorRequirement> nodeSelector(Workspace workspace) {
    return List.of(
        new NodeSelectorRequirement(
            WorkspaceLabels.WORKSPACE_NAME, "In", List.of(workspace.getMetadata().getName())),
        new NodeSelectorRequirement(
            WorkspaceLabels.WORKSPACE_NAMESPACE,
            "In",
            List.of(workspace.getMetadata().getNamespace())));
  }
}
