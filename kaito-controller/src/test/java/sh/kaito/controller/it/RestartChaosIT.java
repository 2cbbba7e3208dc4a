package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.controller.it.ControllerHarness.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The controller process is killed (SIGKILL) at placed points while workspaces are being
 * provisioned and deleted; afterwards every workspace has exactly the NodeClaims it needs, becomes
 * ready (or, if deleted, is gone with its claims and nodes), and deleting them leaves nothing
 * behind.
 *
 * <p>Each kill lands at a {@link KillPoint} the test observes, and the fake cloud holds that work
 * open until the kill has landed, so every run covers every point on any machine, fast or slow. The
 * seed (printed with every kill; replay with {@code -Dchaos.seed=N}) picks node counts and which
 * workspace is deleted.
 */
@WithControlPlane
class RestartChaosIT {
  private static final int CYCLES = 2;

  /** Where a kill lands. */
  enum KillPoint {
    /** A NodeClaim was created; its node (launch) is held, so nothing is ready yet. */
    AFTER_NODECLAIM_CREATE,
    /** The node is ready and the StatefulSet created; its pods are held Pending. */
    AFTER_WORKLOAD_CREATE,
    /** The workspace is being deleted and its NodeClaims are going; their removal is held. */
    DURING_FINALIZATION
  }

  /**
   * One run by default; {@code -Dchaos.runs=20} repeats the whole scenario (fresh namespace, new
   * seed each time) on one control plane, for soak runs.
   */
  @TestFactory
  Stream<DynamicTest> killsAtEveryPointMakeNoDuplicatesAndLeakNothing(
      KubernetesClient client, ControlPlane cp) {
    int runs = Integer.getInteger("chaos.runs", 1);
    return IntStream.rangeClosed(1, runs)
        .mapToObj(
            run ->
                DynamicTest.dynamicTest(
                    "run " + run + " of " + runs,
                    () -> scenario(client, cp, Long.getLong("chaos.seed", System.nanoTime()))));
  }

  private static void scenario(KubernetesClient client, ControlPlane cp, long seed)
      throws Exception {
    String ns = TestNamespaces.create(client, "chaos");
    Random random = new Random(seed);
    Path log = Path.of("target", "chaos-controller-" + ns + ".log").toAbsolutePath();
    Files.createDirectories(log.getParent());
    Map<String, Integer> sizes = new LinkedHashMap<>(); // every workspace made: its node count
    Set<String> live = new LinkedHashSet<>();
    Set<String> deleted = new LinkedHashSet<>();
    Map<KillPoint, Integer> kills = new EnumMap<>(KillPoint.class);

    try (KwokNodeClaimFulfiller cloud =
        new KwokNodeClaimFulfiller(client, ns).withCloudFinalizer()) {
      int round = 0;
      for (int cycle = 0; cycle < CYCLES; cycle++) {
        for (KillPoint point : KillPoint.values()) {
          Path processLog = log.resolveSibling("chaos-" + ns + "-" + round + ".log");
          Process p = startRunning(cp, processLog, "controller " + round);
          String subject =
              switch (point) {
                case AFTER_NODECLAIM_CREATE -> {
                  cloud.holdLaunches();
                  String name = "chaos-" + round;
                  create(client, ns, name, round == 0 ? 3 : 1 + random.nextInt(2), sizes, live);
                  await(
                      name + " has a NodeClaim",
                      Duration.ofSeconds(60),
                      () -> claimsOf(client, ns, name).size(),
                      n -> n > 0);
                  yield name;
                }
                case AFTER_WORKLOAD_CREATE -> {
                  cloud.holdPods();
                  String name = "chaos-" + round;
                  create(client, ns, name, 1, sizes, live);
                  await(
                      name + " StatefulSet created",
                      Duration.ofSeconds(60),
                      () -> client.apps().statefulSets().inNamespace(ns).withName(name).get(),
                      sts -> true);
                  yield name;
                }
                case DURING_FINALIZATION -> {
                  cloud.holdDeletions();
                  List<String> candidates =
                      live.stream().filter(n -> !claimsOf(client, ns, n).isEmpty()).toList();
                  assertThat(candidates).as("a workspace with NodeClaims to delete").isNotEmpty();
                  String victim = candidates.get(random.nextInt(candidates.size()));
                  client.resources(Workspace.class).inNamespace(ns).withName(victim).delete();
                  live.remove(victim);
                  deleted.add(victim);
                  await(
                      victim + " NodeClaim deletion started",
                      Duration.ofSeconds(60),
                      () -> claimsOf(client, ns, victim),
                      claims ->
                          claims.stream()
                              .anyMatch(c -> c.getMetadata().getDeletionTimestamp() != null));
                  yield victim;
                }
              };
          p.destroyForcibly();
          assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
          String line =
              String.format(
                  "event=ChaosKill round=%d point=%s workspace=%s seed=%d",
                  round, point, subject, seed);
          System.out.println(line);
          Files.writeString(
              log,
              line + System.lineSeparator(),
              StandardOpenOption.CREATE,
              StandardOpenOption.APPEND);
          kills.merge(point, 1, Integer::sum);

          assertKillLandedMidWork(client, ns, point, subject, seed);
          assertNoDuplicateClaims(client, ns, sizes, seed);
          switch (point) {
            case AFTER_NODECLAIM_CREATE -> cloud.releaseLaunches();
            case AFTER_WORKLOAD_CREATE -> cloud.releasePods();
            case DURING_FINALIZATION -> cloud.releaseDeletions();
          }
          round++;
        }
      }
      assertThat(kills).as("kills per point (seed %d)", seed).hasSize(KillPoint.values().length);

      Process survivor = startRunning(cp, log, "survivor");
      try {
        for (String name : live) {
          await(
              name + " InferenceReady (seed " + seed + ", log " + log + ")",
              Duration.ofSeconds(120),
              () -> ControllerHarness.workspace(client, ns, name),
              w ->
                  w.getStatus() != null
                      && Conditions.isTrue(
                          w.getStatus().conditions(), WorkspaceConditions.INFERENCE_READY));
        }
        for (String name : deleted) {
          await(
              name + " deleted with its NodeClaims and nodes (seed " + seed + ")",
              Duration.ofSeconds(120),
              () ->
                  (ControllerHarness.workspace(client, ns, name) == null ? 0 : 1)
                      + claimsOf(client, ns, name).size()
                      + client
                          .nodes()
                          .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
                          .withLabel(WorkspaceLabels.WORKSPACE_NAME, name)
                          .list()
                          .getItems()
                          .size(),
              n -> n == 0);
        }
        assertNoDuplicateClaims(client, ns, sizes, seed);
        for (String name : live) {
          assertThat(claimsOf(client, ns, name))
              .as("NodeClaims of %s (seed %d)", name, seed)
              .hasSize(sizes.get(name));
          assertThat(
                  client
                      .apps()
                      .controllerRevisions()
                      .inNamespace(ns)
                      .withLabel("workspace.kaito.io/name", name)
                      .list()
                      .getItems())
              .as("one revision for an unchanged spec")
              .hasSize(1);
        }

        client.resources(Workspace.class).inNamespace(ns).delete();
        await(
            "everything gone (seed " + seed + ")",
            Duration.ofSeconds(120),
            () ->
                client.resources(Workspace.class).inNamespace(ns).list().getItems().size()
                    + client
                        .resources(NodeClaim.class)
                        .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
                        .list()
                        .getItems()
                        .size()
                    + client
                        .nodes()
                        .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
                        .list()
                        .getItems()
                        .size()
                    + client.apps().statefulSets().inNamespace(ns).list().getItems().size()
                    + client.services().inNamespace(ns).list().getItems().size()
                    + client.apps().controllerRevisions().inNamespace(ns).list().getItems().size(),
            n -> n == 0);
      } finally {
        survivor.destroyForcibly();
        survivor.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Starts the controller and waits until it runs. A controller that cannot start (e.g. its first
   * list fails on an overloaded API server) exits non-zero, as it should; like the kubelet, this
   * starts it again, a bounded number of times.
   */
  private static Process startRunning(ControlPlane cp, Path log, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    for (int attempt = 1; ; attempt++) {
      int startedBefore = countStarted(log);
      Process p = ControllerProcess.start(cp.kubeconfig(), log);
      while (p.isAlive() && countStarted(log) == startedBefore) {
        if (System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new AssertionError(what + " did not start; log " + log);
        }
        Thread.sleep(100);
      }
      if (p.isAlive()) {
        return p;
      }
      System.out.printf(
          "event=ControllerExitedBeforeStart what=%s attempt=%d exit=%d log=%s%n",
          what, attempt, p.exitValue(), log);
      assertThat(p.exitValue()).as(what + " exit code when it cannot start").isNotZero();
      assertThat(attempt).as(what + " start attempts; log " + log).isLessThan(5);
    }
  }

  private static int countStarted(Path log) {
    String text = ControllerHarness.readQuietly(log);
    int n = 0;
    for (int i = text.indexOf("event=ControllerStarted");
        i >= 0;
        i = text.indexOf("event=ControllerStarted", i + 1)) {
      n++;
    }
    return n;
  }

  /**
   * What the cluster shows after the kill proves the kill interrupted work in progress (the hold
   * makes it so; a failure here means the hold did not hold).
   */
  private static void assertKillLandedMidWork(
      KubernetesClient client, String ns, KillPoint point, String name, long seed) {
    Workspace w = ControllerHarness.workspace(client, ns, name);
    String as = point + " " + name + " (seed " + seed + ")";
    switch (point) {
      case AFTER_NODECLAIM_CREATE -> {
        assertThat(
                client
                    .nodes()
                    .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
                    .withLabel(WorkspaceLabels.WORKSPACE_NAME, name)
                    .list()
                    .getItems())
            .as("no node yet: " + as)
            .isEmpty();
        assertThat(isTrue(w, WorkspaceConditions.RESOURCE_READY)).as(as).isFalse();
      }
      case AFTER_WORKLOAD_CREATE ->
          assertThat(isTrue(w, WorkspaceConditions.INFERENCE_READY)).as(as).isFalse();
      case DURING_FINALIZATION -> {
        assertThat(w).as("still finalizing: " + as).isNotNull();
        assertThat(w.getMetadata().getDeletionTimestamp()).as(as).isNotNull();
      }
    }
  }

  private static boolean isTrue(Workspace w, String type) {
    return w != null
        && w.getStatus() != null
        && Conditions.isTrue(w.getStatus().conditions(), type);
  }

  private static List<NodeClaim> claimsOf(KubernetesClient client, String ns, String name) {
    return client
        .resources(NodeClaim.class)
        .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
        .withLabel(WorkspaceLabels.WORKSPACE_NAME, name)
        .list()
        .getItems();
  }

  private static void create(
      KubernetesClient client,
      String ns,
      String name,
      int nodes,
      Map<String, Integer> sizes,
      Set<String> live) {
    Workspace ws =
        ControllerHarness.phi3(
            ns,
            name,
            name,
            w -> {
              if (nodes > 1) {
                // transformers runtime: resource.count nodes (vLLM would use the estimator).
                w.getMetadata().setAnnotations(Map.of("kaito.sh/runtime", "transformers"));
                w.setResource(w.getResource().withCount(nodes));
              }
            });
    sizes.put(name, nodes);
    live.add(name);
    client.resources(Workspace.class).inNamespace(ns).resource(ws).create();
  }

  private static void assertNoDuplicateClaims(
      KubernetesClient client, String ns, Map<String, Integer> expected, long seed) {
    List<NodeClaim> claims =
        client
            .resources(NodeClaim.class)
            .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
            .list()
            .getItems();
    Map<String, Integer> perWorkspace = new HashMap<>();
    for (NodeClaim c : claims) {
      perWorkspace.merge(
          c.getMetadata().getLabels().get(WorkspaceLabels.WORKSPACE_NAME), 1, Integer::sum);
    }
    perWorkspace.forEach(
        (ws, n) ->
            assertThat(n)
                .as("NodeClaims of %s (seed %d)", ws, seed)
                .isLessThanOrEqualTo(expected.get(ws)));
  }
}
