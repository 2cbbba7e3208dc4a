package sh.kaito.controller.it;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 *
 * <p>Holds let a test keep work open for as long as it likes instead of betting on timing: while
 * {@link #holdLaunches() launches are held} new claims wait unfulfilled; while {@link #holdPods()
 * pods are held} new nodes carry a {@value #HOLD_TAINT} taint no workload tolerates, so their pods
 * stay Pending; with {@link #withCloudFinalizer()} every claim carries a finalizer (as Karpenter's
 * termination finalizer does) that is removed only once its node is gone and deletions are not
 * {@link #holdDeletions() held}.
 */
final class KwokNodeClaimFulfiller implements AutoCloseable {
  static final String HOLD_TAINT = "chaos.kaito.sh/hold";
  static final String CLOUD_FINALIZER = "test.kaito.sh/fake-cloud-instance";

  private final KubernetesClient client;
  private final String namespace;
  private final ExecutorService executor = Executors.newSingleThreadExecutor();
  private final Watch watch;

  // Guarded by this.
  private boolean launchesHeld;
  private boolean podsHeld;
  private boolean deletionsHeld;
  private boolean cloudFinalizer;
  private final List<NodeClaim> heldLaunches = new ArrayList<>();
  private final Set<String> heldNodes = new LinkedHashSet<>();
  private final Set<String> heldDeletions = new LinkedHashSet<>();

  KwokNodeClaimFulfiller(KubernetesClient client, String workspaceNamespace) {
    this.client = client;
    this.namespace = workspaceNamespace;
    this.watch =
        client
            .resources(NodeClaim.class)
            .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, workspaceNamespace)
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, NodeClaim claim) {
                    switch (action) {
                      case ADDED -> executor.execute(() -> added(claim));
                      case MODIFIED -> {
                        if (claim.getMetadata().getDeletionTimestamp() != null) {
                          executor.execute(() -> deleting(claim.getMetadata().getName()));
                        }
                      }
                      case DELETED ->
                          executor.execute(() -> deleteNode(claim.getMetadata().getName()));
                      default -> {}
                    }
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                });
  }

  static String nodeName(NodeClaim claim) {
    return nodeName(claim.getMetadata().getName());
  }

  private static String nodeName(String claimName) {
    return "kwok-" + claimName;
  }

  /** Every claim seen from now on gets {@link #CLOUD_FINALIZER}. */
  synchronized KwokNodeClaimFulfiller withCloudFinalizer() {
    cloudFinalizer = true;
    return this;
  }

  /** Claims seen from now on wait, unfulfilled, until {@link #releaseLaunches()}. */
  synchronized void holdLaunches() {
    launchesHeld = true;
  }

  synchronized void releaseLaunches() {
    launchesHeld = false;
    for (NodeClaim claim : heldLaunches) {
      executor.execute(() -> fulfil(claim));
    }
    heldLaunches.clear();
  }

  /** Nodes made from now on carry {@link #HOLD_TAINT} until {@link #releasePods()}. */
  synchronized void holdPods() {
    podsHeld = true;
  }

  synchronized void releasePods() {
    podsHeld = false;
    for (String node : heldNodes) {
      executor.execute(() -> untaint(node));
    }
    heldNodes.clear();
  }

  /** Claims being deleted keep their node and finalizer until {@link #releaseDeletions()}. */
  synchronized void holdDeletions() {
    deletionsHeld = true;
  }

  synchronized void releaseDeletions() {
    deletionsHeld = false;
    for (String claim : heldDeletions) {
      executor.execute(() -> deleting(claim));
    }
    heldDeletions.clear();
  }

  private void added(NodeClaim claim) {
    boolean hold;
    synchronized (this) {
      if (cloudFinalizer) {
        patchFinalizers(claim.getMetadata().getName(), List.of(CLOUD_FINALIZER));
      }
      hold = launchesHeld;
      if (hold) {
        heldLaunches.add(claim);
      }
    }
    if (!hold) {
      fulfil(claim);
    }
  }

  private void deleting(String claimName) {
    synchronized (this) {
      if (deletionsHeld) {
        heldDeletions.add(claimName);
        return;
      }
    }
    deleteNode(claimName);
    if (cloudFinalizer) {
      patchFinalizers(claimName, List.of());
    }
  }

  private void deleteNode(String claimName) {
    client.nodes().withName(nodeName(claimName)).delete();
  }

  private void patchFinalizers(String claimName, List<String> finalizers) {
    try {
      client
          .resources(NodeClaim.class)
          .withName(claimName)
          .patch(
              PatchContext.of(PatchType.JSON_MERGE),
              client
                  .getKubernetesSerialization()
                  .asJson(Map.of("metadata", Map.of("finalizers", finalizers))));
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }

  private void untaint(String node) {
    // The controller labels the node and kwok renews its status meanwhile: edit re-reads the node
    // on each try, so a conflict is retried (a lost untaint would hold the pods Pending forever).
    retryOnConflict(
        () ->
            client
                .nodes()
                .withName(node)
                .edit(
                    n -> {
                      n.getSpec().getTaints().removeIf(t -> HOLD_TAINT.equals(t.getKey()));
                      return n;
                    }));
  }

  /**
   * Runs an edit (a read, then a write guarded by its resourceVersion) until no 409; 404 ends it.
   */
  private static void retryOnConflict(Runnable edit) {
    for (int attempt = 1; ; attempt++) {
      try {
        edit.run();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404) {
          return;
        }
        if (e.getCode() != 409 || attempt == 50) {
          throw e;
        }
      }
    }
  }

  private void fulfil(NodeClaim claim) {
    NodeClaim current =
        client.resources(NodeClaim.class).withName(claim.getMetadata().getName()).get();
    if (current == null || current.getMetadata().getDeletionTimestamp() != null) {
      return; // deleted while its launch was held
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
    synchronized (this) {
      if (podsHeld) {
        List<Taint> taints = new ArrayList<>(node.getSpec().getTaints());
        taints.add(new Taint("NoSchedule", HOLD_TAINT, null, "true"));
        node.getSpec().setTaints(taints);
        heldNodes.add(node.getMetadata().getName());
      }
    }
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
    retryOnConflict(
        () ->
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
                    }));
  }

  String namespace() {
    return namespace;
  }

  /** Releases every hold (so nothing this test made is left stuck) and stops watching. */
  @Override
  public void close() throws InterruptedException {
    releaseLaunches();
    releasePods();
    releaseDeletions();
    watch.close();
    executor.shutdown();
    executor.awaitTermination(30, TimeUnit.SECONDS);
    if (cloudFinalizer) {
      // Nobody honours the finalizer once this fake cloud is gone.
      for (NodeClaim c :
          client
              .resources(NodeClaim.class)
              .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, namespace)
              .list()
              .getItems()) {
        patchFinalizers(c.getMetadata().getName(), List.of());
      }
    }
  }
}
