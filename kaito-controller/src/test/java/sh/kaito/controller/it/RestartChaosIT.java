package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.controller.it.ControllerHarness.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The controller process is killed (SIGKILL) at random moments ten times while three workspaces are
 * being provisioned; afterwards every workspace has exactly the NodeClaims it needs, becomes ready,
 * and deleting them leaves nothing behind.
 */
@WithControlPlane
class RestartChaosIT {

  @Test
  void killsDuringProvisioningMakeNoDuplicatesAndLeakNothing(
      KubernetesClient client, ControlPlane cp) throws Exception {
    String ns = TestNamespaces.create(client, "chaos");
    long seed = Long.getLong("chaos.seed", System.nanoTime());
    Random random = new Random(seed);
    Path log = Path.of("target", "chaos-controller-" + ns + ".log").toAbsolutePath();
    Files.createDirectories(log.getParent());
    Map<String, Integer> expectedClaims = new HashMap<>();

    try (KwokNodeClaimFulfiller fulfiller = new KwokNodeClaimFulfiller(client, ns, 500)) {
      int killedWhileProvisioning = 0;
      for (int kill = 0; kill < 10; kill++) {
        Path processLog = log.resolveSibling("chaos-" + ns + "-" + kill + ".log");
        Process p = ControllerProcess.start(cp.kubeconfig(), processLog);
        // Kill at a random point after the controller is running (JVM start-up alone proves
        // nothing).
        await(
            "controller " + kill + " started",
            Duration.ofSeconds(60),
            () -> ControllerHarness.readQuietly(processLog),
            text -> text.contains("event=ControllerStarted"));
        // A new workspace every round keeps provisioning going while the kills land.
        createWorkspace(client, ns, "chaos-" + kill, kill == 0 ? 3 : 1, expectedClaims);
        Thread.sleep(random.nextInt(1500));
        if (!allReady(client, ns, expectedClaims.keySet())) {
          killedWhileProvisioning++;
        }
        p.destroyForcibly();
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertNoDuplicateClaims(client, ns, expectedClaims, seed);
      }
      assertThat(killedWhileProvisioning)
          .as("kills that landed before every workspace was ready (seed %d)", seed)
          .isGreaterThanOrEqualTo(5);

      Process survivor = ControllerProcess.start(cp.kubeconfig(), log);
      try {
        for (String name : expectedClaims.keySet()) {
          await(
              name + " InferenceReady (seed " + seed + ", log " + log + ")",
              Duration.ofSeconds(120),
              () -> ControllerHarness.workspace(client, ns, name),
              w ->
                  w.getStatus() != null
                      && Conditions.isTrue(
                          w.getStatus().conditions(), WorkspaceConditions.INFERENCE_READY));
        }
        assertNoDuplicateClaims(client, ns, expectedClaims, seed);
        for (String name : expectedClaims.keySet()) {
          assertThat(
                  client
                      .resources(NodeClaim.class)
                      .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
                      .withLabel(WorkspaceLabels.WORKSPACE_NAME, name)
                      .list()
                      .getItems())
              .hasSize(expectedClaims.get(name));
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

  private static void createWorkspace(
      KubernetesClient client, String ns, String name, int nodes, Map<String, Integer> expected) {
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
    expected.put(name, nodes);
    client.resources(Workspace.class).inNamespace(ns).resource(ws).create();
  }

  private static boolean allReady(KubernetesClient client, String ns, java.util.Set<String> names) {
    for (String name : names) {
      Workspace w = ControllerHarness.workspace(client, ns, name);
      if (w == null
          || w.getStatus() == null
          || !Conditions.isTrue(w.getStatus().conditions(), WorkspaceConditions.INFERENCE_READY)) {
        return false;
      }
    }
    return true;
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
