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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * Two operator processes: one wins the Lease and runs the controller, both answer /healthz, the
 * leader's /metrics carries the controller's meters; SIGKILL the leader and the other takes over.
 * The deploy/ manifests are accepted by the API server (server-side dry run).
 */
@WithControlPlane
class OperatorProcessIT {
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @Test
  void leaderElectionHealthAndMetrics(KubernetesClient client, ControlPlane cp) throws Exception {
    String ns = TestNamespaces.create(client, "operator");
    Path dir = Path.of("target").toAbsolutePath();
    int[] a = {ControllerHarness.freePort(), ControllerHarness.freePort()};
    int[] b = {ControllerHarness.freePort(), ControllerHarness.freePort()};
    Path logA = dir.resolve("operator-" + ns + "-a.log");
    Path logB = dir.resolve("operator-" + ns + "-b.log");
    Process pa = start(cp, ns, a, logA);
    Process pb = start(cp, ns, b, logB);
    try {
      await(
          "a leader",
          Duration.ofSeconds(60),
          () -> ControllerHarness.readQuietly(logA) + ControllerHarness.readQuietly(logB),
          t -> t.contains("event=ControllerStarted"));
      boolean aLeads = ControllerHarness.readQuietly(logA).contains("event=ControllerStarted");
      Process leader = aLeads ? pa : pb;
      int[] leaderPorts = aLeads ? a : b;
      int[] followerPorts = aLeads ? b : a;
      Path followerLog = aLeads ? logB : logA;
      assertThat(ControllerHarness.readQuietly(followerLog))
          .doesNotContain("event=ControllerStarted");

      assertThat(get(followerPorts[1], "/healthz")).isEqualTo(200);
      assertThat(get(followerPorts[1], "/readyz")).isEqualTo(200);
      await(
          "leader ready",
          Duration.ofSeconds(30),
          () -> get(leaderPorts[1], "/readyz"),
          c -> c == 200);
      String metrics = body(leaderPorts[0], "/metrics");
      assertThat(metrics)
          .contains("kaito_workspaces{state=\"Ready\"}")
          .contains("kaito_reconcile_duration_seconds")
          .contains("kaito_reconcile_errors_total");

      leader.destroyForcibly();
      leader.waitFor(10, TimeUnit.SECONDS);
      await(
          "the follower taking over",
          Duration.ofSeconds(45),
          () -> ControllerHarness.readQuietly(followerLog),
          t -> t.contains("event=ControllerStarted"));
    } finally {
      pa.destroyForcibly();
      pb.destroyForcibly();
      pa.waitFor(10, TimeUnit.SECONDS);
      pb.waitFor(10, TimeUnit.SECONDS);
    }

    // The manifests live in kaito-system; the dry run needs the namespace.
    if (client.namespaces().withName("kaito-system").get() == null) {
      cp.kubectl("create", "namespace", "kaito-system");
    }
    Path deploy = Path.of("..", "deploy").toAbsolutePath().normalize();
    var dryRun =
        cp.kubectl(
            "apply",
            "--dry-run=server",
            "-f",
            deploy.resolve("rbac.yaml").toString(),
            "-f",
            deploy.resolve("webhook.yaml").toString(),
            "-f",
            deploy.resolve("controller.yaml").toString());
    assertThat(dryRun.exitCode()).as(dryRun.output()).isZero();
  }

  private Process start(ControlPlane cp, String ns, int[] ports, Path log) throws Exception {
    return ControllerProcess.start(
        cp.kubeconfig(),
        log,
        "KAITO_LEADER_ELECT",
        "true",
        "KAITO_NAMESPACE",
        ns,
        "KAITO_METRICS_PORT",
        String.valueOf(ports[0]),
        "KAITO_HEALTH_PORT",
        String.valueOf(ports[1]));
  }

  private int get(int port, String path) {
    try {
      return http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
              HttpResponse.BodyHandlers.discarding())
          .statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  private String body(int port, String path) throws Exception {
    return http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }
}
