package sh.kaito.controller.it;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeSelectorRequirementWithMinValues;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.presets.sku.SkuTable;
import sh.kaito.testsupport.FakeNodes;

/**
 * A test provisioner: turns each NodeClaim of the given workspace namespace into a kwok GPU node
 * (labels copied from the claim as Karpenter does, GPUs from the SKU table, {@code sku=gpu} taint)
 * and marks the claim Launched/Registered/Initialized/Ready. Deleting a claim deletes its node.
 *
 * <p>The node has no {@code accelerator} label (a provisioner does not set it; upstream's
 * controller does, and so must ours).
 */
final class KwokNodeClaimFulfiller implements AutoCloseable {
  private final KubernetesClient client;
  private final String namespace;
  private final ExecutorService executor = Executors.newSingleThreadExecutor();
  private final Watch watch;

  private final long delayMillis;

  KwokNodeClaimFulfiller(KubernetesClient client, String workspaceNamespace) {
    this(client, workspaceNamespace, 0);
  }

  /**
   * @param delayMillis how long a "cloud" takes before it starts making the node
   */
  KwokNodeClaimFulfiller(KubernetesClient client, String workspaceNamespace, long delayMillis) {
    this.client = client;
    this.delayMillis = delayMillis;
    this.namespace = workspaceNamespace;
    this.watch =
        client
            .resources(NodeClaim.class)
            .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, workspaceNamespace)
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, NodeClaim claim) {
                    if (action == Action.ADDED) {
                      executor.execute(() -> fulfil(claim));
                    } else if (action == Action.DELETED) {
                      executor.execute(() -> client.nodes().withName(nodeName(claim)).delete());
                    }
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                });
  }

  static String nodeName(NodeClaim claim) {
    return "kwok-" + claim.getMetadata().getName();
  }

  private void fulfil(NodeClaim claim) {
    if (delayMillis > 0) {
      try {
        Thread.sleep(delayMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    NodeSelectorRequirementWithMinValues it =
        claim.getSpec().requirement(KarpenterConditions.INSTANCE_TYPE_LABEL);
    String instanceType = it.getValues().get(0);
    int gpus = SkuTable.azure().find(instanceType).map(s -> s.gpuCount()).orElse(1);
    FakeNodes.Spec spec =
        FakeNodes.gpu(nodeName(claim), gpus).withInstanceType(instanceType).withTaint();
    for (Map.Entry<String, String> l : claim.getMetadata().getLabels().entrySet()) {
      spec = spec.withLabel(l.getKey(), l.getValue());
    }
    Node node = spec.toNode();
    node.getMetadata().getLabels().remove(WorkspaceLabels.ACCELERATOR);
    try {
      client.nodes().resource(node).create();
      client
          .nodes()
          .withName(node.getMetadata().getName())
          .waitUntilCondition(
              n ->
                  n != null
                      && n.getStatus() != null
                      && n.getStatus().getConditions() != null
                      && n.getStatus().getConditions().stream()
                          .anyMatch(
                              c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus())),
              60,
              TimeUnit.SECONDS);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
    }
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    List<io.fabric8.kubernetes.api.model.Condition> conditions =
        List.of(
                KarpenterConditions.LAUNCHED,
                KarpenterConditions.REGISTERED,
                KarpenterConditions.INITIALIZED,
                KarpenterConditions.READY)
            .stream()
            .map(
                t ->
                    new ConditionBuilder()
                        .withType(t)
                        .withStatus("True")
                        .withReason(t)
                        .withMessage("")
                        .withLastTransitionTime(now)
                        .build())
            .toList();
    try {
      client
          .resources(NodeClaim.class)
          .withName(claim.getMetadata().getName())
          .editStatus(
              c -> {
                if (c.getStatus() == null) {
                  c.setStatus(new sh.kaito.api.karpenter.NodeClaimStatus());
                }
                c.getStatus().setNodeName(nodeName(claim));
                c.getStatus().setProviderID("kwok://" + nodeName(claim));
                c.getStatus().setConditions(conditions);
                return c;
              });
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }

  String namespace() {
    return namespace;
  }

  @Override
  public void close() throws InterruptedException {
    watch.close();
    executor.shutdown();
    executor.awaitTermination(30, TimeUnit.SECONDS);
  }
}
