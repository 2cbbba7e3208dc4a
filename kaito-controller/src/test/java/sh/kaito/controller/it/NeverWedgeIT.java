package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.controller.it.ControllerHarness.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.operator.ControllerLoop;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * A controller must degrade by restarting, never by going silent: a worker that dies turns liveness
 * unhealthy at once, and a controller out of heap exits (so the kubelet restarts it) and a
 * restarted one with enough heap converges from the caches it rebuilds.
 */
@WithControlPlane
class NeverWedgeIT {
  /** The deployment's livenessProbe period (Kubernetes' default, deploy/controller.yaml). */
  private static final Duration PROBE_PERIOD = Duration.ofSeconds(10);

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @Test
  void aDeadWorkerTurnsLivenessUnhealthyWithinOneProbePeriod(
      KubernetesClient client, ControlPlane cp) throws Exception {
    String ns = TestNamespaces.create(client, "wedge");
    int healthPort = ControllerHarness.freePort();
    Path log = Path.of("target", "wedge-" + ns + ".log").toAbsolutePath();
    Process p =
        ControllerProcess.start(
            cp.kubeconfig(),
            log,
            List.of("-D" + ControllerLoop.ERROR_HOOK_PROPERTY + "=" + ns + "/doomed"),
            "KAITO_HEALTH_PORT",
            String.valueOf(healthPort));
    try {
      ControllerHarness.awaitControllerStarted(log);
      assertThat(healthz(healthPort).statusCode()).isEqualTo(200);

      client
          .resources(Workspace.class)
          .inNamespace(ns)
          .resource(workspace(ns, "doomed", Map.of()))
          .create();
      long created = System.nanoTime();
      HttpResponse<String> unhealthy =
          await(
              "/healthz failing",
              PROBE_PERIOD.plusSeconds(20),
              () -> healthz(healthPort),
              r -> r.statusCode() == 503);
      Duration took = Duration.ofNanos(System.nanoTime() - created);
      // Measured from the workspace's creation, which includes the event reaching the worker:
      // the probe sees the death within one period, however the probes are phased.
      assertThat(took).as("time to an unhealthy /healthz").isLessThan(PROBE_PERIOD);
      assertThat(unhealthy.body())
          .contains("workspace-worker-")
          .contains("died")
          .contains("test hook");
      assertThat(p.isAlive()).as("the process stays up for the kubelet to restart").isTrue();
    } finally {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aStarvedControllerExitsAndARestartedOneConvergesWithoutDuplicates(
      KubernetesClient client, ControlPlane cp) throws Exception {
    String ns = TestNamespaces.create(client, "starved");
    Path log = Path.of("target", "starved-" + ns + ".log").toAbsolutePath();
    try (KwokNodeClaimFulfiller fulfiller = new KwokNodeClaimFulfiller(client, ns)) {
      // Started with nothing to do, the controller runs; then its workspaces arrive, each carrying
      // 250 KiB (an annotation: Kubernetes allows 256 KiB of them), far more than the heap holds.
      Process starved =
          ControllerProcess.start(cp.kubeconfig(), log, List.of("-Xmx" + STARVED_HEAP));
      List<String> names = new ArrayList<>();
      try {
        ControllerHarness.awaitControllerStarted(log);
        String padding = "x".repeat(250 * 1024);
        for (int i = 0; i < WORKSPACES && starved.isAlive(); i++) {
          String name = "big-" + i;
          client
              .resources(Workspace.class)
              .inNamespace(ns)
              .resource(workspace(ns, name, Map.of("test.kaito.sh/padding", padding)))
              .create();
          names.add(name);
          // Paced by the controller (it has seen this one), so that no more are made than it takes
          // to starve it: the restarted controller has fewer to converge.
          String seen = "event=RevisionCreated workspace=" + ns + "/" + name + " ";
          await(
              name + " seen or the controller gone",
              Duration.ofSeconds(60),
              () -> !starved.isAlive() || ControllerHarness.readQuietly(log).contains(seen),
              done -> done);
        }
        assertThat(starved.waitFor(60, TimeUnit.SECONDS))
            .as("the starved controller exits (log %s)", log)
            .isTrue();
        assertThat(starved.exitValue()).as("exit status").isNotZero();
        assertThat(ControllerHarness.readQuietly(log))
            .contains("Terminating due to java.lang.OutOfMemoryError");
      } finally {
        starved.destroyForcibly();
        starved.waitFor(10, TimeUnit.SECONDS);
      }

      Path restartLog = log.resolveSibling("starved-" + ns + "-restarted.log");
      Process restarted = ControllerProcess.start(cp.kubeconfig(), restartLog);
      try {
        for (String name : names) {
          ControllerHarness.awaitInferenceReady(client, ns, name, Duration.ofSeconds(120));
        }
        Map<String, Long> claims =
            client
                .resources(NodeClaim.class)
                .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
                .list()
                .getItems()
                .stream()
                .collect(
                    Collectors.groupingBy(
                        c -> c.getMetadata().getLabels().get(WorkspaceLabels.WORKSPACE_NAME),
                        Collectors.counting()));
        assertThat(claims).as("NodeClaims per workspace").hasSize(names.size());
        assertThat(claims.values()).as("no duplicate NodeClaims").containsOnly(1L);
      } finally {
        restarted.destroyForcibly();
        restarted.waitFor(10, TimeUnit.SECONDS);
        client.resources(Workspace.class).inNamespace(ns).delete();
      }
    }
  }

  /**
   * A heap the controller starts and runs in, but that cannot hold a few dozen padded workspaces
   * (with 26 MiB it died at the 6th here, 1.5 MiB of padding; it starts with about 20 MiB live).
   */
  private static final String STARVED_HEAP = "26m";

  private static final int WORKSPACES = 60;

  private static Workspace workspace(String ns, String name, Map<String, String> annotations) {
    return ControllerHarness.phi3(ns, name, name, w -> w.getMetadata().setAnnotations(annotations));
  }

  private HttpResponse<String> healthz(int port) {
    try {
      return http.send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz")).build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (Exception e) {
      return null;
    }
  }
}
