package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.controller.it.ControllerHarness.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceAnnotations;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.controller.TestWorkspaces;
import sh.kaito.controller.runtime.WorkspaceController;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * Serving after tuning on kwok GPU nodes: the serving pod holds the node's GPU, so a new revision
 * must give the node back before its Job can run there; and {@code kaito.sh/serve-after-tuning:
 * "false"} keeps a tuning workspace to the Job alone (upstream's behaviour), at any time.
 */
@WithControlPlane
class ServeAfterTuningIT {
  static final Duration TIMEOUT = Duration.ofSeconds(60);
  static final String REVISION = WorkspaceAnnotations.REVISION;

  @Test
  void aNewRevisionTunesOnTheNodeItsServingPodHeld(KubernetesClient client) throws Exception {
    String name = "retune";
    withTuningWorkspace(
        client,
        name,
        Map.of(),
        ns -> {
          ControllerHarness.awaitInferenceReady(client, ns, name, TIMEOUT);
          String node = servingPod(client, ns, name).getSpec().getNodeName();
          // Standard_NC6s_v3 has one GPU: the serving pod holds it, as the new Job's pod will need.
          assertThat(
                  client
                      .nodes()
                      .withName(node)
                      .get()
                      .getStatus()
                      .getCapacity()
                      .get("nvidia.com/gpu"))
              .hasToString("1");

          String v2 = "myacr.azurecr.io/adapter:0.0.2";
          edit(
              client,
              ns,
              name,
              w ->
                  w.setTuning(
                      w.getTuning().withOutput(DataDestination.ofImage(v2, "push-secret"))));

          // Without giving the node back, this pod stays Pending (Insufficient nvidia.com/gpu).
          JobSeen retuned =
              await(
                  "the revision-2 Job succeeded",
                  TIMEOUT,
                  () -> jobSeen(client, ns, name),
                  j -> "2".equals(j.revision()) && j.succeeded() > 0);
          assertThat(retuned.podNodes()).containsExactly(node);

          StatefulSet serving =
              await(
                  "the adapter of revision 2 served",
                  TIMEOUT,
                  () -> client.apps().statefulSets().inNamespace(ns).withName(name).get(),
                  s ->
                      "2".equals(s.getMetadata().getAnnotations().get(REVISION))
                          && s.getSpec().getTemplate().getSpec().getInitContainers().stream()
                              .anyMatch(c -> c.getArgs().contains(v2)));
          assertThat(serving.getSpec().getTemplate().getSpec().getInitContainers())
              .noneMatch(c -> c.getArgs().contains("myacr.azurecr.io/adapter:0.0.1"));
          Workspace served = ControllerHarness.awaitInferenceReady(client, ns, name, TIMEOUT);
          assertThat(served.getMetadata().getAnnotations()).containsEntry(REVISION, "2");
          assertThat(servingPod(client, ns, name).getSpec().getNodeName()).isEqualTo(node);
          assertThat(ControllerHarness.nodeClaims(client, ns, name)).hasSize(1);
        });
  }

  @Test
  void serveAfterTuningFalseKeepsTheWorkspaceToItsJob(KubernetesClient client) throws Exception {
    String name = "jobonly";
    withTuningWorkspace(
        client,
        name,
        Map.of(WorkspaceAnnotations.SERVE_AFTER_TUNING, "false"),
        ns -> {
          Workspace done = awaitSucceeded(client, ns, name);
          // The StatefulSet would be created in the same reconcile that reported the Job's success.
          assertThat(client.apps().statefulSets().inNamespace(ns).withName(name).get()).isNull();
          assertThat(done.getStatus().state()).isEqualTo("Succeeded");
          assertThat(conditionTypes(done)).isEqualTo(JOB_ONLY_CONDITIONS);
          assertThat(reason(done, WorkspaceConditions.JOB_STARTED))
              .isEqualTo(WorkspaceConditions.Reasons.TUNING_JOB_STATUS_STARTED);
          assertThat(reason(done, WorkspaceConditions.WORKSPACE_SUCCEEDED))
              .isEqualTo(WorkspaceConditions.Reasons.WORKSPACE_SUCCEEDED);
          String jobUid =
              client
                  .batch()
                  .v1()
                  .jobs()
                  .inNamespace(ns)
                  .withName(name)
                  .get()
                  .getMetadata()
                  .getUid();

          // Turned on later (no new revision, no new Job): the adapter is served.
          annotate(client, ns, name, "true");
          ControllerHarness.awaitInferenceReady(client, ns, name, TIMEOUT);
          // Turned off again: the serving workload goes, InferenceReady with it.
          annotate(client, ns, name, "false");
          await(
              "the serving StatefulSet gone and InferenceReady removed",
              TIMEOUT,
              () ->
                  "statefulSet="
                      + (client.apps().statefulSets().inNamespace(ns).withName(name).get() != null)
                      + " conditions="
                      + conditionTypes(ControllerHarness.workspace(client, ns, name)),
              seen -> seen.equals("statefulSet=false conditions=" + JOB_ONLY_CONDITIONS));
          Job job = client.batch().v1().jobs().inNamespace(ns).withName(name).get();
          assertThat(job.getMetadata().getUid()).isEqualTo(jobUid);
          assertThat(job.getMetadata().getAnnotations()).containsEntry(REVISION, "1");
        });
  }

  /**
   * What a Job-only tuning workspace shows, as upstream's (no {@code InferenceReady}); {@code
   * WorkspaceReady} mirrors {@code WorkspaceSucceeded} for v1alpha1's column.
   */
  static final List<String> JOB_ONLY_CONDITIONS =
      List.of(
              WorkspaceConditions.NODE_CLAIM_READY,
              WorkspaceConditions.NODES_READY,
              WorkspaceConditions.RESOURCE_READY,
              WorkspaceConditions.JOB_STARTED,
              WorkspaceConditions.WORKSPACE_SUCCEEDED,
              WorkspaceConditions.WORKSPACE_READY)
          .stream()
          .sorted()
          .toList();

  interface InNamespace {
    void run(String ns) throws Exception;
  }

  /**
   * The seed's qlora workspace (with an output image) as {@code name} and these annotations, in a
   * namespace of its own with a kwok fulfiller and a controller running while {@code test} runs.
   */
  private static void withTuningWorkspace(
      KubernetesClient client, String name, Map<String, String> annotations, InNamespace test)
      throws Exception {
    String ns = TestNamespaces.create(client, name);
    try (KwokNodeClaimFulfiller fulfiller = new KwokNodeClaimFulfiller(client, ns);
        WorkspaceController controller = ControllerHarness.start(client)) {
      Workspace ws = TestWorkspaces.toCreate(TestWorkspaces.tuning("qlora", null), ns, name);
      ws.getMetadata().setAnnotations(annotations);
      client.resource(ws).create();
      test.run(ns);
    }
  }

  /** The Job {@code ns/name}: its revision, succeeded count and the nodes of its pods. */
  record JobSeen(String revision, int succeeded, List<String> podNodes, List<String> pending) {}

  private static JobSeen jobSeen(KubernetesClient client, String ns, String name) {
    Job job = client.batch().v1().jobs().inNamespace(ns).withName(name).get();
    if (job == null) {
      return null;
    }
    List<Pod> pods =
        client
            .pods()
            .inNamespace(ns)
            .withLabel("batch.kubernetes.io/controller-uid", job.getMetadata().getUid())
            .list()
            .getItems();
    return new JobSeen(
        job.getMetadata().getAnnotations().get(REVISION),
        job.getStatus() == null || job.getStatus().getSucceeded() == null
            ? 0
            : job.getStatus().getSucceeded(),
        pods.stream().map(p -> p.getSpec().getNodeName()).toList(),
        pods.stream()
            .flatMap(p -> p.getStatus() == null ? null : p.getStatus().getConditions().stream())
            .filter(c -> "PodScheduled".equals(c.getType()) && "False".equals(c.getStatus()))
            .map(c -> c.getReason() + ": " + c.getMessage())
            .toList());
  }

  private static List<String> conditionTypes(Workspace ws) {
    return ws == null || ws.getStatus() == null
        ? List.of()
        : ws.getStatus().conditions().stream().map(Condition::getType).sorted().toList();
  }

  private static Workspace awaitSucceeded(KubernetesClient client, String ns, String name)
      throws InterruptedException {
    return await(
        name + " WorkspaceSucceeded",
        TIMEOUT,
        () -> ControllerHarness.workspace(client, ns, name),
        w ->
            w.getStatus() != null
                && Conditions.isTrue(
                    w.getStatus().conditions(), WorkspaceConditions.WORKSPACE_SUCCEEDED));
  }

  private static void annotate(KubernetesClient client, String ns, String name, String value) {
    edit(
        client,
        ns,
        name,
        w -> w.getMetadata().getAnnotations().put(WorkspaceAnnotations.SERVE_AFTER_TUNING, value));
  }

  private static void edit(
      KubernetesClient client, String ns, String name, Consumer<Workspace> change) {
    client
        .resources(Workspace.class)
        .inNamespace(ns)
        .withName(name)
        .edit(
            w -> {
              change.accept(w);
              return w;
            });
  }

  private static String reason(Workspace ws, String type) {
    return Conditions.find(ws.getStatus().conditions(), type).orElseThrow().getReason();
  }

  private static Pod servingPod(KubernetesClient client, String ns, String name) {
    return client.pods().inNamespace(ns).withName(name + "-0").get();
  }
}
