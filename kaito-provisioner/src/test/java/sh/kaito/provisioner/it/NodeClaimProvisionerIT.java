package sh.kaito.provisioner.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.presets.sku.SkuTable;
import sh.kaito.provisioner.TestClaims;
import sh.kaito.provisioner.cloud.CloudProvider;
import sh.kaito.provisioner.cloud.FakeGpuCloudProvider;
import sh.kaito.provisioner.cloud.FakeGpuNodes;
import sh.kaito.provisioner.cloud.Instance;
import sh.kaito.provisioner.cloud.LaunchException;
import sh.kaito.provisioner.lifecycle.NodeClaimController;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The provisioner against a real API server with kwok: NodeClaims in, Ready GPU nodes out. Each
 * test starts its own controller and closes it, and uses its own claim names and workspace label.
 */
@WithControlPlane
class NodeClaimProvisionerIT {
  private static final String A100 = "Standard_NC24ads_A100_v4";
  private static final NodeClaimController.Options FAST =
      new NodeClaimController.Options(2, Duration.ofHours(1), Duration.ofSeconds(30));

  private NodeClaimController controller;

  private NodeClaimController start(KubernetesClient client, CloudProvider provider)
      throws Exception {
    NodeClaimController c = new NodeClaimController(client, provider, FAST, Clock.systemUTC());
    c.start(60);
    return c;
  }

  @AfterEach
  void stop() {
    if (controller != null) {
      controller.close();
    }
  }

  private static NodeClaim create(KubernetesClient client, NodeClaim claim) {
    return client.resources(NodeClaim.class).resource(claim).create();
  }

  private static NodeClaim awaitCondition(
      KubernetesClient client, String claim, String type, String status) {
    return client
        .resources(NodeClaim.class)
        .withName(claim)
        .waitUntilCondition(
            c ->
                c != null
                    && c.getStatus() != null
                    && status.equals(Conditions.statusOf(c.getStatus().getConditions(), type)),
            60,
            TimeUnit.SECONDS);
  }

  /** Creates an A100 claim and waits until it is Ready; returns its node's name. */
  private static String readyClaim(KubernetesClient client, String name) {
    create(client, TestClaims.workspaceClaim(name, "ws-" + name, A100));
    return awaitCondition(client, name, "Ready", "True").getStatus().getNodeName();
  }

  private static void awaitGone(KubernetesClient client, String claim) {
    client
        .resources(NodeClaim.class)
        .withName(claim)
        .waitUntilCondition(c -> c == null, 60, TimeUnit.SECONDS);
  }

  private static List<Node> nodesOf(KubernetesClient client, String claim) {
    return client.nodes().withLabel(FakeGpuNodes.CLAIM_LABEL, claim).list().getItems();
  }

  @Test
  void anA100ClaimBecomesReadyWithAKwokGpuNodeThatRunsAGpuPod(KubernetesClient client)
      throws Exception {
    controller = start(client, new FakeGpuCloudProvider(client, SkuTable.azure()));
    String name = TestClaims.uniqueName();
    String workspace = "ws-" + name;
    create(client, TestClaims.workspaceClaim(name, workspace, A100));

    NodeClaim ready = awaitCondition(client, name, "Ready", "True");

    assertThat(ready.getMetadata().getFinalizers()).contains("karpenter.sh/termination");
    client
        .resources(NodeClaim.class)
        .withName(name)
        .waitUntilCondition(
            c -> A100.equals(c.getMetadata().getLabels().get("node.kubernetes.io/instance-type")),
            30,
            TimeUnit.SECONDS);
    assertThat(ready.getStatus().getProviderID()).startsWith("kaito-fake://");
    assertThat(ready.getStatus().getCapacity().get("nvidia.com/gpu")).isEqualTo(new Quantity("1"));
    Node node = client.nodes().withName(ready.getStatus().getNodeName()).get();
    assertThat(node.getSpec().getProviderID()).isEqualTo(ready.getStatus().getProviderID());
    assertThat(node.getStatus().getAllocatable().get("nvidia.com/gpu").getAmount()).isEqualTo("1");
    assertThat(node.getStatus().getConditions())
        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    assertThat(node.getMetadata().getLabels())
        .containsEntry("kaito.sh/workspace", workspace)
        .containsEntry("node.kubernetes.io/instance-type", A100)
        .containsEntry("nvidia.com/gpu.count", "1");

    String ns = TestNamespaces.create(client, "gpu-pod");
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("uses-a-gpu")
            .withNamespace(ns)
            .endMetadata()
            .withNewSpec()
            .withNodeSelector(Map.of("kaito.sh/workspace", workspace))
            .addNewToleration()
            .withKey("sku")
            .withOperator("Equal")
            .withValue("gpu")
            .withEffect("NoSchedule")
            .endToleration()
            .addNewContainer()
            .withName("main")
            .withImage("example.invalid/gpu:1")
            .withNewResources()
            .addToLimits("nvidia.com/gpu", new Quantity("1"))
            .endResources()
            .endContainer()
            .endSpec()
            .build();
    client.pods().inNamespace(ns).resource(pod).create();
    Pod running =
        client
            .pods()
            .inNamespace(ns)
            .withName("uses-a-gpu")
            .waitUntilCondition(
                p -> p != null && "Running".equals(p.getStatus().getPhase()), 60, TimeUnit.SECONDS);
    assertThat(running.getSpec().getNodeName()).isEqualTo(ready.getStatus().getNodeName());
    // One Event per lifecycle step, sent in the background: poll until the last is there.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    List<String> reasons = eventReasons(client, name);
    while (!reasons.contains("Ready") && System.nanoTime() < deadline) {
      Thread.sleep(100);
      reasons = eventReasons(client, name);
    }
    assertThat(reasons).contains("Launched", "Registered", "Initialized", "Ready");
  }

  private static List<String> eventReasons(KubernetesClient client, String claim) {
    return client.v1().events().inNamespace("default").list().getItems().stream()
        .filter(e -> claim.equals(e.getInvolvedObject().getName()))
        .map(e -> e.getReason())
        .toList();
  }

  @Test
  void anUnknownInstanceTypeIsLaunchedFalseWithTheReasonAndMakesNoNode(KubernetesClient client)
      throws Exception {
    controller = start(client, new FakeGpuCloudProvider(client, SkuTable.azure()));
    String name = TestClaims.uniqueName();
    create(client, TestClaims.workspaceClaim(name, "ws-" + name, "Standard_D2_v9000"));

    NodeClaim failed = awaitCondition(client, name, "Launched", "False");

    var launched = Conditions.find(failed.getStatus().getConditions(), "Launched").orElseThrow();
    assertThat(launched.getReason()).isEqualTo("InstanceTypeUnknown");
    assertThat(launched.getMessage()).contains("Standard_D2_v9000");
    assertThat(Conditions.statusOf(failed.getStatus().getConditions(), "Ready")).isEqualTo("False");
    assertThat(nodesOf(client, name)).isEmpty();
  }

  @Test
  void aClaimWhoseLabelsNoNodeCanCarryIsLaunchedFalseNodeRejected(KubernetesClient client)
      throws Exception {
    controller = start(client, new FakeGpuCloudProvider(client, SkuTable.azure()));
    String name = TestClaims.uniqueName();
    create(
        client,
        TestClaims.workspaceClaim(
            name,
            "ws-" + name,
            A100,
            c ->
                c.getSpec()
                    .getRequirements()
                    .add(
                        sh.kaito.api.karpenter.NodeSelectorRequirementWithMinValues.in(
                            "example.com/team", "not a label value!"))));

    NodeClaim failed = awaitCondition(client, name, "Launched", "False");

    var launched = Conditions.find(failed.getStatus().getConditions(), "Launched").orElseThrow();
    assertThat(launched.getReason()).isEqualTo("NodeRejected");
    assertThat(launched.getMessage()).contains("not a label value!");
    assertThat(nodesOf(client, name)).isEmpty();
  }

  @Test
  void deletingTheClaimDeletesItsNodeAndThenTheClaim(KubernetesClient client) throws Exception {
    controller = start(client, new FakeGpuCloudProvider(client, SkuTable.azure()));
    String name = TestClaims.uniqueName();
    String nodeName = readyClaim(client, name);

    client.resources(NodeClaim.class).withName(name).delete();

    awaitGone(client, name);
    assertThat(client.nodes().withName(nodeName).get()).isNull();
  }

  @Test
  void deletingTheNodeOfAReadyClaimDeletesTheClaim(KubernetesClient client) throws Exception {
    controller = start(client, new FakeGpuCloudProvider(client, SkuTable.azure()));
    String name = TestClaims.uniqueName();
    String nodeName = readyClaim(client, name);

    client.nodes().withName(nodeName).delete();

    awaitGone(client, name);
    assertThat(nodesOf(client, name)).isEmpty();
  }

  /** A cloud that is {@code real} except for what a test overrides (its create). */
  private abstract static class Delegating implements CloudProvider {
    final CloudProvider real;

    Delegating(CloudProvider real) {
      this.real = real;
    }

    @Override
    public String name() {
      return "test-" + real.name();
    }

    @Override
    public Optional<Instance> get(NodeClaim claim) {
      return real.get(claim);
    }

    @Override
    public void delete(NodeClaim claim) {
      real.delete(claim);
    }

    @Override
    public List<Instance> list() {
      return real.list();
    }
  }

  /** A cloud whose first create makes the machine and then "crashes" before answering. */
  private static final class CrashAfterCreate extends Delegating {
    final AtomicInteger creates = new AtomicInteger();

    CrashAfterCreate(CloudProvider real) {
      super(real);
    }

    @Override
    public Instance create(NodeClaim claim) throws LaunchException {
      try {
        real.create(claim);
      } finally {
        // Counted only after the machine exists, so the test can wait for a finished "crash".
        creates.incrementAndGet();
      }
      throw new IllegalStateException("process killed after the machine was made");
    }
  }

  @Test
  void aControllerRestartedBetweenCreateAndStatusAdoptsTheNodeInsteadOfMakingASecond(
      KubernetesClient client) throws Exception {
    CloudProvider fake = new FakeGpuCloudProvider(client, SkuTable.azure());
    CrashAfterCreate crashing = new CrashAfterCreate(fake);
    controller = start(client, crashing);
    String name = TestClaims.uniqueName();
    create(client, TestClaims.workspaceClaim(name, "ws-" + name, A100));
    client
        .nodes()
        .withLabel(FakeGpuNodes.CLAIM_LABEL, name)
        .informOnCondition(nodes -> !nodes.isEmpty())
        .get(60, TimeUnit.SECONDS);
    // The node shows up while create() is still returning; wait for the "crash" itself.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (crashing.creates.get() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    controller.close();
    assertThat(crashing.creates.get()).isPositive();
    NodeClaim before = client.resources(NodeClaim.class).withName(name).get();
    assertThat(before.getStatus() == null ? null : before.getStatus().getProviderID()).isNull();

    controller = start(client, fake);
    NodeClaim ready = awaitCondition(client, name, "Ready", "True");

    assertThat(nodesOf(client, name))
        .singleElement()
        .satisfies(
            n -> assertThat(n.getMetadata().getName()).isEqualTo(ready.getStatus().getNodeName()));

    // A plain restart of a Ready, labelled claim changes nothing either.
    String resourceVersion =
        client
            .resources(NodeClaim.class)
            .withName(name)
            .waitUntilCondition(
                c -> c.getMetadata().getLabels().containsKey("karpenter.sh/capacity-type"),
                30,
                TimeUnit.SECONDS)
            .getMetadata()
            .getResourceVersion();
    controller.close();
    // Nothing should change; wait for proof that the new controller looked at the claim (a
    // finished reconcile of it), not for a time.
    Set<String> looked = ConcurrentHashMap.newKeySet();
    controller = new NodeClaimController(client, fake, FAST, Clock.systemUTC());
    controller.onReconciled(looked::add);
    controller.start(60);
    long lookDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!looked.contains(name) && System.nanoTime() < lookDeadline) {
      Thread.sleep(20);
    }
    assertThat(looked).as("the restarted controller reconciled %s", name).contains(name);
    assertThat(nodesOf(client, name)).hasSize(1);
    assertThat(
            client
                .resources(NodeClaim.class)
                .withName(name)
                .get()
                .getMetadata()
                .getResourceVersion())
        .isEqualTo(resourceVersion);
  }

  @Test
  void aFakeNodeWhoseClaimIsGoneIsGarbageCollected(KubernetesClient client) throws Exception {
    CloudProvider fake = new FakeGpuCloudProvider(client, SkuTable.azure());
    controller =
        new NodeClaimController(
            client,
            fake,
            new NodeClaimController.Options(1, Duration.ofHours(1), Duration.ZERO),
            Clock.systemUTC());
    controller.start(60);
    // A machine made for a claim that never reached (or already left) the API server.
    NodeClaim phantom = TestClaims.workspaceClaim(TestClaims.uniqueName(), "ghost", A100);
    Instance orphan = fake.create(phantom);
    String unrelated = TestNamespaces.uniqueName("cpu");
    client
        .nodes()
        .resource(
            new io.fabric8.kubernetes.api.model.NodeBuilder()
                .withNewMetadata()
                .withName(unrelated)
                .addToAnnotations(FakeGpuNodes.KWOK_ANNOTATION, "fake")
                .endMetadata()
                .build())
        .create();

    assertThat(controller.collectGarbage()).isGreaterThanOrEqualTo(1);

    client
        .nodes()
        .withName(orphan.nodeName())
        .waitUntilCondition(n -> n == null, 30, TimeUnit.SECONDS);
    assertThat(client.nodes().withName(unrelated).get()).isNotNull();
    client.nodes().withName(unrelated).delete();
  }

  @Test
  void errorsAreRetriedWithTheClaimsOwnDoublingBackoffWhileOtherClaimsGoOn(KubernetesClient client)
      throws Exception {
    FakeGpuCloudProvider fake = new FakeGpuCloudProvider(client, SkuTable.azure());
    String failing = TestClaims.uniqueName();
    List<Long> attempts = new java.util.concurrent.CopyOnWriteArrayList<>();
    CloudProvider flaky =
        new Delegating(fake) {
          @Override
          public Instance create(NodeClaim claim) throws LaunchException {
            if (claim.getMetadata().getName().equals(failing)) {
              attempts.add(System.nanoTime());
              throw new IllegalStateException("the cloud is down for this claim");
            }
            return real.create(claim);
          }
        };
    var metrics = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    var timings =
        new sh.kaito.provisioner.lifecycle.Timings(
            Duration.ofHours(1),
            Duration.ofSeconds(1),
            Duration.ofSeconds(1),
            Duration.ofMillis(200),
            Duration.ofMillis(800));
    controller =
        new NodeClaimController(
            client,
            flaky,
            new NodeClaimController.Options(
                2, Duration.ofHours(1), Duration.ofSeconds(30), timings),
            Clock.systemUTC(),
            metrics);
    controller.start(60);
    create(client, TestClaims.workspaceClaim(failing, "ws-" + failing, A100));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (attempts.size() < 5 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(attempts).hasSizeGreaterThanOrEqualTo(5);
    // Another claim is served meanwhile.
    readyClaim(client, TestClaims.uniqueName());

    double[] gaps = new double[4];
    for (int i = 0; i < 4; i++) {
      gaps[i] = (attempts.get(i + 1) - attempts.get(i)) / 1e6;
    }
    // 200, 400, 800, 800 ms (doubling, capped). Events about the claim may bring an extra early
    // pass, so only lower bounds are exact; 10% below for timer granularity.
    assertThat(gaps[2]).as("third delay, ms").isGreaterThan(720);
    assertThat(gaps[3]).as("fourth delay, ms (capped)").isGreaterThan(720).isLessThan(5_000);
    assertThat(gaps[0]).as("first delay, ms").isLessThan(gaps[2]);
    // Each failed pass is counted on the shared loop's errors meter (read after the attempts, so
    // at least as many).
    assertThat(
            metrics.get("kaito.reconcile.errors").tag("controller", "nodeclaim").counter().count())
        .isGreaterThanOrEqualTo(5);
  }
}
