package sh.kaito.controller.runtime;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetSpecBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.provision.ClusterView;
import sh.kaito.operator.EventHandlers;
import sh.kaito.operator.Health;
import sh.kaito.operator.LeanStore;

/**
 * Informer caches for everything the reconciler reads. Only labelled objects are cached (what Kaito
 * created), except Workspaces and Nodes, which keeps memory flat as unrelated workloads grow. The
 * objects read a few at a time (a workspace's NodeClaims, StatefulSet, Services, pods, revisions)
 * are kept as JSON ({@link LeanStore#serialized}); Workspaces, Nodes and Jobs as objects ({@link
 * LeanStore#trimming}). Of each object only what the reconciler reads (see {@link ClusterView}): no
 * {@code managedFields} anywhere, no {@code kubectl apply} copy of Workspaces and Nodes, Pods
 * without their spec (status and node only), StatefulSets without their pod template (a roll reads
 * the live object), Services as metadata, ControllerRevisions without their data, Nodes without
 * their image list.
 */
public final class InformerClusterView implements ClusterView, AutoCloseable {
  private static final String BY_WORKSPACE = "byWorkspace";

  private final SharedIndexInformer<Workspace> workspaces;
  private final SharedIndexInformer<NodeClaim> nodeClaims;
  private final SharedIndexInformer<Node> nodes;
  private final SharedIndexInformer<Job> jobs;
  private final SharedIndexInformer<StatefulSet> statefulSets;
  private final SharedIndexInformer<Service> services;
  private final SharedIndexInformer<Pod> pods;
  private final SharedIndexInformer<ControllerRevision> revisions;
  private final Map<String, SharedIndexInformer<?>> all = new LinkedHashMap<>();

  /**
   * Creates (does not start) the informers; {@code onChange} receives the key {@code ns/name} of
   * every workspace an event concerns.
   */
  public InformerClusterView(KubernetesClient client, boolean byoNodes, Consumer<String> onChange) {
    String ws = WorkspaceLabels.WORKSPACE_NAME;
    KubernetesSerialization json = client.getKubernetesSerialization();
    // What each cache keeps is what the reconciler reads (see ClusterView); LeanStore says why.
    workspaces =
        LeanStore.lean(
            client.resources(Workspace.class).inAnyNamespace().runnableInformer(0),
            LeanStore.trimming(InformerClusterView::trimWorkspace));
    // Read a few at a time (by workspace): kept as JSON (LeanStore.serialized).
    nodeClaims =
        LeanStore.lean(
            client.resources(NodeClaim.class).withLabel(ws).runnableInformer(0),
            LeanStore.serialized(json, NodeClaim.class, c -> {}));
    nodes =
        LeanStore.lean(
            client.nodes().runnableInformer(0), LeanStore.trimming(InformerClusterView::trimNode));
    jobs =
        LeanStore.lean(
            client.batch().v1().jobs().inAnyNamespace().withLabel(ws).runnableInformer(0),
            LeanStore.withoutManagedFields());
    statefulSets =
        LeanStore.lean(
            client.apps().statefulSets().inAnyNamespace().withLabel(ws).runnableInformer(0),
            LeanStore.serialized(json, StatefulSet.class, InformerClusterView::trimStatefulSet));
    services =
        LeanStore.lean(
            client.services().inAnyNamespace().withLabel(ws).runnableInformer(0),
            LeanStore.serialized(json, Service.class, InformerClusterView::trimService));
    pods =
        LeanStore.lean(
            client.pods().inAnyNamespace().withLabel(ws).runnableInformer(0),
            LeanStore.serialized(json, Pod.class, InformerClusterView::trimPod));
    revisions =
        LeanStore.lean(
            client
                .apps()
                .controllerRevisions()
                .inAnyNamespace()
                .withLabel(WorkspaceLabels.REVISION_WORKSPACE_NAME)
                .runnableInformer(0),
            LeanStore.serialized(json, ControllerRevision.class, r -> r.setData(null)));

    nodeClaims.addIndexers(Map.of(BY_WORKSPACE, c -> List.of(ownerKey(c))));
    pods.addIndexers(Map.of(BY_WORKSPACE, p -> List.of(labelKey(p, ws))));
    revisions.addIndexers(
        Map.of(BY_WORKSPACE, r -> List.of(labelKey(r, WorkspaceLabels.REVISION_WORKSPACE_NAME))));

    workspaces.addEventHandler(EventHandlers.enqueue(InformerClusterView::key, onChange));
    nodeClaims.addEventHandler(EventHandlers.enqueue(InformerClusterView::ownerKey, onChange));
    nodes.addEventHandler(
        EventHandlers.enqueueAll(
            n -> {
              String owner = ownerKey(n);
              if (!owner.isEmpty() || !byoNodes) {
                return List.of(owner);
              }
              return workspacesSelecting(n);
            },
            onChange));
    for (SharedIndexInformer<? extends HasMetadata> i :
        List.of(jobs, statefulSets, services, pods)) {
      addLabelled(i, ws, onChange);
    }
    addLabelled(revisions, WorkspaceLabels.REVISION_WORKSPACE_NAME, onChange);
    all.put("workspaces", workspaces);
    all.put("nodeclaims", nodeClaims);
    all.put("nodes", nodes);
    all.put("jobs", jobs);
    all.put("statefulsets", statefulSets);
    all.put("services", services);
    all.put("pods", pods);
    all.put("controllerrevisions", revisions);
  }

  /** No {@code kubectl apply} copy; one copy of the condition strings all workspaces share. */
  private static void trimWorkspace(Workspace w) {
    LeanStore.dropLastApplied(w);
    if (w.getStatus() != null) {
      for (Condition c : w.getStatus().conditionsOrEmpty()) {
        c.setType(LeanStore.intern(c.getType()));
        c.setStatus(LeanStore.intern(c.getStatus()));
        c.setReason(LeanStore.intern(c.getReason()));
        c.setLastTransitionTime(LeanStore.intern(c.getLastTransitionTime()));
      }
    }
  }

  /**
   * A pod's status (phase, conditions, container names, states and restarts, IP) and node; not its
   * spec, nor the container statuses' ids, mounts and resources.
   */
  private static void trimPod(Pod pod) {
    String nodeName = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
    pod.setSpec(new PodSpecBuilder().withNodeName(nodeName).build());
    PodStatus status = pod.getStatus();
    if (status == null) {
      return;
    }
    status.setHostIPs(null);
    status.setPodIPs(null);
    if (status.getConditions() != null) {
      for (PodCondition c : status.getConditions()) {
        c.setLastProbeTime(null);
      }
    }
    for (List<ContainerStatus> statuses :
        Arrays.asList(status.getInitContainerStatuses(), status.getContainerStatuses())) {
      for (ContainerStatus c : statuses == null ? List.<ContainerStatus>of() : statuses) {
        c.setImageID(null);
        c.setContainerID(null);
        c.setVolumeMounts(null);
        c.setResources(null);
        c.setAllocatedResources(null);
        c.setAllocatedResourcesStatus(null);
        c.setUser(null);
      }
    }
  }

  /**
   * Replicas, metadata and status; not the pod template, the largest part of every workspace's
   * objects. A roll reads the live StatefulSet (WorkspaceReconciler).
   */
  private static void trimStatefulSet(StatefulSet sts) {
    Integer replicas = sts.getSpec() == null ? null : sts.getSpec().getReplicas();
    sts.setSpec(new StatefulSetSpecBuilder().withReplicas(replicas).build());
  }

  /** Services are only checked for existence (they are created once, never updated). */
  private static void trimService(Service service) {
    service.setSpec(null);
    service.setStatus(null);
  }

  /** Labels, capacity, allocatable and conditions; not the image list (large on real nodes). */
  private static void trimNode(Node node) {
    if (node.getStatus() != null) {
      node.getStatus().setImages(null);
    }
    LeanStore.dropLastApplied(node);
  }

  private static <T extends HasMetadata> void addLabelled(
      SharedIndexInformer<T> informer, String label, Consumer<String> onChange) {
    informer.addEventHandler(EventHandlers.enqueue(o -> labelKey(o, label), onChange));
  }

  private List<String> workspacesSelecting(Node node) {
    Map<String, String> labels = node.getMetadata().getLabels();
    List<String> keys = new ArrayList<>();
    for (Workspace w : workspaces.getStore().list()) {
      Map<String, String> want =
          WorkspaceLabels.sanitizedMatchLabels(
              w.getResource() == null ? null : w.getResource().labelSelector());
      if (!want.isEmpty() && labels != null && labels.entrySet().containsAll(want.entrySet())) {
        keys.add(key(w));
      }
    }
    return keys;
  }

  public void start(long timeoutSeconds) throws Exception {
    for (SharedIndexInformer<?> i : all.values()) {
      i.start();
    }
    for (SharedIndexInformer<?> i : all.values()) {
      i.start().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
    }
  }

  public boolean hasSynced() {
    return all.values().stream().allMatch(SharedIndexInformer::hasSynced);
  }

  /** Liveness: fails once an informer has stopped for good. */
  public Health.Check liveness() {
    return Health.informers(all);
  }

  private static String key(HasMetadata o) {
    return o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
  }

  /** {@code ns/name} from the ownership labels of NodeClaims and nodes, or "". */
  private static String ownerKey(HasMetadata o) {
    Map<String, String> l = o.getMetadata().getLabels();
    if (l == null
        || !l.containsKey(WorkspaceLabels.WORKSPACE_NAME)
        || !l.containsKey(WorkspaceLabels.WORKSPACE_NAMESPACE)) {
      return "";
    }
    return l.get(WorkspaceLabels.WORKSPACE_NAMESPACE) + "/" + l.get(WorkspaceLabels.WORKSPACE_NAME);
  }

  private static String labelKey(HasMetadata o, String label) {
    Map<String, String> l = o.getMetadata().getLabels();
    return l == null || l.get(label) == null
        ? ""
        : o.getMetadata().getNamespace() + "/" + l.get(label);
  }

  @Override
  public Workspace workspace(String namespace, String name) {
    return workspaces.getStore().getByKey(namespace + "/" + name);
  }

  @Override
  public List<Workspace> workspaces() {
    return workspaces.getStore().list();
  }

  @Override
  public List<NodeClaim> nodeClaims(Workspace w) {
    return nodeClaims.getIndexer().byIndex(BY_WORKSPACE, key(w));
  }

  @Override
  public Node node(String name) {
    return nodes.getStore().getByKey(name);
  }

  @Override
  public List<Node> nodes(Map<String, String> labels) {
    return nodes.getStore().list().stream()
        .filter(
            n ->
                n.getMetadata().getLabels() != null
                    && n.getMetadata().getLabels().entrySet().containsAll(labels.entrySet()))
        .toList();
  }

  @Override
  public Job job(String namespace, String name) {
    return jobs.getStore().getByKey(namespace + "/" + name);
  }

  @Override
  public StatefulSet statefulSet(String namespace, String name) {
    return statefulSets.getStore().getByKey(namespace + "/" + name);
  }

  @Override
  public Service service(String namespace, String name) {
    return services.getStore().getByKey(namespace + "/" + name);
  }

  @Override
  public List<Pod> pods(String namespace, String workspaceName) {
    return pods.getIndexer().byIndex(BY_WORKSPACE, namespace + "/" + workspaceName);
  }

  @Override
  public List<ControllerRevision> revisions(String namespace, String workspaceName) {
    return revisions.getIndexer().byIndex(BY_WORKSPACE, namespace + "/" + workspaceName);
  }

  @Override
  public void close() {
    all.values().forEach(SharedIndexInformer::close);
  }
}
