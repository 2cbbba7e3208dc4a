package sh.kaito.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The control plane behaves like a user's cluster for what the operator relies on. */
@WithControlPlane
class ControlPlaneSmokeIT {

  private static final Duration WAIT = Duration.ofSeconds(90);

  @Test
  void gpuPodsGoOnlyWhereGpusAreAllocatable(KubernetesClient client) {
    // Both nodes carry the test's own label, so only their resources tell them apart.
    String pool = TestNamespaces.uniqueName("pool");
    String gpuNode = TestNamespaces.uniqueName("gpu");
    String cpuNode = TestNamespaces.uniqueName("cpu");
    FakeNodes.create(
        client, FakeNodes.gpu(gpuNode, 2).withTaint().withLabel("kaito.sh/test-pool", pool));
    FakeNodes.create(client, FakeNodes.cpu(cpuNode).withLabel("kaito.sh/test-pool", pool));
    String ns = TestNamespaces.create(client, "gpu");

    // Three replicas of one GPU each on a pool with two GPUs: two run on the GPU node, and the
    // third stays Pending rather than landing on the CPU node.
    Deployment deployment =
        new DeploymentBuilder()
            .withNewMetadata()
            .withName("gpu-workload")
            .endMetadata()
            .withNewSpec()
            .withReplicas(3)
            .withNewSelector()
            .addToMatchLabels("app", "gpu-workload")
            .endSelector()
            .withNewTemplate()
            .withNewMetadata()
            .addToLabels("app", "gpu-workload")
            .endMetadata()
            .withSpec(
                new PodSpecBuilder()
                    .addToNodeSelector("kaito.sh/test-pool", pool)
                    .addNewToleration()
                    .withKey("sku")
                    .withOperator("Equal")
                    .withValue("gpu")
                    .withEffect("NoSchedule")
                    .endToleration()
                    .addNewContainer()
                    .withName("main")
                    .withImage("registry.invalid/never-pulled:0")
                    .withNewResources()
                    .addToLimits(FakeNodes.GPU_RESOURCE, new Quantity("1"))
                    .endResources()
                    .endContainer()
                    .build())
            .endTemplate()
            .endSpec()
            .build();
    client.apps().deployments().inNamespace(ns).resource(deployment).create();

    await(
        () ->
            podsIn(client, ns).stream().filter(ControlPlaneSmokeIT::running).count() == 2
                && podsIn(client, ns).stream().anyMatch(ControlPlaneSmokeIT::unschedulable),
        () -> "two GPU pods running and one unschedulable; pods: " + describe(podsIn(client, ns)));

    List<Pod> pods = podsIn(client, ns);
    assertThat(pods).hasSize(3);
    assertThat(
            pods.stream().filter(ControlPlaneSmokeIT::running).map(p -> p.getSpec().getNodeName()))
        .containsOnly(gpuNode);
    assertThat(pods.stream().filter(ControlPlaneSmokeIT::unschedulable))
        .singleElement()
        .satisfies(p -> assertThat(p.getSpec().getNodeName()).isNull());
    assertThat(pods).noneMatch(p -> cpuNode.equals(p.getSpec().getNodeName()));

    Node gpu = client.nodes().withName(gpuNode).get();
    assertThat(gpu.getStatus().getAllocatable()).containsKey(FakeNodes.GPU_RESOURCE);
    assertThat(gpu.getMetadata().getLabels())
        .containsEntry(FakeNodes.INSTANCE_TYPE_LABEL, "Standard_NC24ads_A100_v4");
  }

  @Test
  void jobPodsComplete(KubernetesClient client) {
    String pool = TestNamespaces.uniqueName("pool");
    FakeNodes.create(
        client,
        FakeNodes.cpu(TestNamespaces.uniqueName("cpu")).withLabel("kaito.sh/test-pool", pool));
    String ns = TestNamespaces.create(client, "job");
    Job job =
        new JobBuilder()
            .withNewMetadata()
            .withName("tuning")
            .endMetadata()
            .withNewSpec()
            .withNewTemplate()
            .withSpec(
                new PodSpecBuilder()
                    .withRestartPolicy("Never")
                    .addToNodeSelector("kaito.sh/test-pool", pool)
                    .addNewContainer()
                    .withName("main")
                    .withImage("registry.invalid/never-pulled:0")
                    .endContainer()
                    .build())
            .endTemplate()
            .endSpec()
            .build();
    client.batch().v1().jobs().inNamespace(ns).resource(job).create();

    Job done =
        client
            .batch()
            .v1()
            .jobs()
            .inNamespace(ns)
            .withName("tuning")
            .waitUntilCondition(
                j ->
                    j != null
                        && j.getStatus() != null
                        && j.getStatus().getConditions().stream()
                            .anyMatch(
                                c ->
                                    "Complete".equals(c.getType()) && "True".equals(c.getStatus())),
                WAIT.toSeconds(),
                TimeUnit.SECONDS);
    assertThat(done.getStatus().getSucceeded()).isEqualTo(1);
    assertThat(podsIn(client, ns))
        .singleElement()
        .satisfies(p -> assertThat(p.getStatus().getPhase()).isEqualTo("Succeeded"));
  }

  @Test
  void deletingAnOwnerDeletesItsDependents(KubernetesClient client) {
    String ns = TestNamespaces.create(client, "gc");
    ConfigMap owner =
        client
            .configMaps()
            .inNamespace(ns)
            .resource(
                new ConfigMapBuilder().withNewMetadata().withName("owner").endMetadata().build())
            .create();
    for (String name : List.of("dependent-a", "dependent-b")) {
      client
          .configMaps()
          .inNamespace(ns)
          .resource(
              new ConfigMapBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .withOwnerReferences(
                      new OwnerReferenceBuilder()
                          .withApiVersion("v1")
                          .withKind("ConfigMap")
                          .withName("owner")
                          .withUid(owner.getMetadata().getUid())
                          .withController(true)
                          .build())
                  .endMetadata()
                  .build())
          .create();
    }
    client
        .configMaps()
        .inNamespace(ns)
        .resource(
            new ConfigMapBuilder().withNewMetadata().withName("unrelated").endMetadata().build())
        .create();

    client.configMaps().inNamespace(ns).withName("owner").delete();

    await(
        () ->
            client.configMaps().inNamespace(ns).withName("dependent-a").get() == null
                && client.configMaps().inNamespace(ns).withName("dependent-b").get() == null,
        () -> "the garbage collector to delete the dependents");
    assertThat(client.configMaps().inNamespace(ns).withName("unrelated").get()).isNotNull();
  }

  private static List<Pod> podsIn(KubernetesClient client, String ns) {
    return client.pods().inNamespace(ns).list().getItems();
  }

  private static boolean running(Pod pod) {
    return "Running".equals(pod.getStatus().getPhase());
  }

  private static boolean unschedulable(Pod pod) {
    return pod.getStatus().getConditions().stream()
        .anyMatch(
            c ->
                "PodScheduled".equals(c.getType())
                    && "False".equals(c.getStatus())
                    && "Unschedulable".equals(c.getReason()));
  }

  /** Node and phase of each pod, for failure messages. */
  private static List<String> describe(List<Pod> pods) {
    return pods.stream()
        .map(
            p ->
                p.getMetadata().getName()
                    + "@"
                    + p.getSpec().getNodeName()
                    + ":"
                    + p.getStatus().getPhase())
        .toList();
  }

  /** Polls until the condition holds; on timeout the message says what was awaited and seen. */
  static void await(
      java.util.function.BooleanSupplier condition, java.util.function.Supplier<String> what) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + WAIT + " waiting for " + what.get());
      }
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what.get(), e);
      }
    }
  }
}
