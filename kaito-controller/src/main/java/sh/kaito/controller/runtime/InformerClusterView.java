package sh.kaito.controller.runtime;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.provision.ClusterView;

/**
 * Informer caches for everything the reconciler reads. Only labelled objects are cached (what Kaito
 * created), except Workspaces and Nodes, which keeps memory flat as unrelated workloads grow.
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
  private final List<SharedIndexInformer<?>> all = new ArrayList<>();

  /**
   * Creates (does not start) the informers; {@code onChange} receives the key {@code ns/name} of
   * every workspace an event concerns.
   */
  public InformerClusterView(KubernetesClient client, boolean byoNodes, Consumer<String> onChange) {
    String ws = WorkspaceLabels.WORKSPACE_NAME;
    workspaces = client.resources(Workspace.class).inAnyNamespace().runnableInformer(0);
    nodeClaims = client.resources(NodeClaim.class).withLabel(ws).runnableInformer(0);
    nodes = client.nodes().runnableInformer(0);
    jobs = client.batch().v1().jobs().inAnyNamespace().withLabel(ws).runnableInformer(0);
    statefulSets = client.apps().statefulSets().inAnyNamespace().withLabel(ws).runnableInformer(0);
    services = client.services().inAnyNamespace().withLabel(ws).runnableInformer(0);
    pods = client.pods().inAnyNamespace().withLabel(ws).runnableInformer(0);
    revisions =
        client
            .apps()
            .controllerRevisions()
            .inAnyNamespace()
            .withLabel(WorkspaceLabels.REVISION_WORKSPACE_NAME)
            .runnableInformer(0);

    nodeClaims.addIndexers(Map.of(BY_WORKSPACE, c -> List.of(ownerKey(c))));
    pods.addIndexers(Map.of(BY_WORKSPACE, p -> List.of(labelKey(p, ws))));
    revisions.addIndexers(
        Map.of(BY_WORKSPACE, r -> List.of(labelKey(r, WorkspaceLabels.REVISION_WORKSPACE_NAME))));

    workspaces.addEventHandler(handler(w -> List.of(key(w)), onChange));
    nodeClaims.addEventHandler(handler(c -> List.of(ownerKey(c)), onChange));
    nodes.addEventHandler(
        handler(
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
    all.addAll(
        List.of(workspaces, nodeClaims, nodes, jobs, statefulSets, services, pods, revisions));
  }

  private static <T extends HasMetadata> void addLabelled(
      SharedIndexInformer<T> informer, String label, Consumer<String> onChange) {
    informer.addEventHandler(handler(o -> List.of(labelKey(o, label)), onChange));
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

  private static <T> ResourceEventHandler<T> handler(
      Function<T, List<String>> keys, Consumer<String> onChange) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        emit(obj);
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        emit(newObj);
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        emit(obj);
      }

      private void emit(T obj) {
        for (String k : keys.apply(obj)) {
          if (k != null && !k.isEmpty()) {
            onChange.accept(k);
          }
        }
      }
    };
  }

  public void start(long timeoutSeconds) throws Exception {
    for (SharedIndexInformer<?> i : all) {
      i.start();
    }
    for (SharedIndexInformer<?> i : all) {
      i.start().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
    }
  }

  public boolean hasSynced() {
    return all.stream().allMatch(SharedIndexInformer::hasSynced);
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
    all.forEach(SharedIndexInformer::close);
  }
}
