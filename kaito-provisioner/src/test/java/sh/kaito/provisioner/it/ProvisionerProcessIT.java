package sh.kaito.provisioner.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import sh.kaito.provisioner.ProvisionerMain;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The provisioner process as deployed: it takes the Lease {@code kaito-provisioner}, then answers
 * {@code /healthz} and {@code /readyz} and serves the shared loop's meters on {@code /metrics}.
 */
@WithControlPlane
class ProvisionerProcessIT {
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @Test
  void leadsThroughALeaseAndServesProbesAndMetrics(KubernetesClient client, ControlPlane cp)
      throws Exception {
    String ns = TestNamespaces.create(client, "provisioner");
    int healthPort = freePort();
    int metricsPort = freePort();
    Path log = Path.of("target", "provisioner-" + ns + ".log").toAbsolutePath();
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                ProvisionerMain.class.getName(),
                "--kubeconfig=" + cp.kubeconfig(),
                "--bind-address=127.0.0.1",
                "--health-port=" + healthPort,
                "--metrics-port=" + metricsPort,
                "--leader-elect=true",
                "--leader-election-namespace=" + ns,
                "--gc-interval-seconds=3600")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (status(healthPort, "/readyz") != 200 || !logged(log, "event=ProvisionerStarted")) {
        assertThat(p.isAlive()).as("provisioner running (log %s)", log).isTrue();
        assertThat(System.nanoTime()).as("started within 60 s (log %s)", log).isLessThan(deadline);
        Thread.sleep(200);
      }
      Lease lease = client.leases().inNamespace(ns).withName("kaito-provisioner").get();
      assertThat(lease.getSpec().getHolderIdentity()).isNotBlank();
      assertThat(Files.readString(log)).contains("event=LeaderElected lease=kaito-provisioner");
      assertThat(status(healthPort, "/healthz")).isEqualTo(200);
      String metrics = body(metricsPort, "/metrics");
      assertThat(metrics)
          .contains("kaito_reconcile_duration_seconds_count{controller=\"nodeclaim\"")
          .contains("kaito_reconcile_errors_total{controller=\"nodeclaim\"")
          .contains("kaito_workqueue_depth{controller=\"nodeclaim\"")
          .contains("jvm_memory_used_bytes");
    } finally {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static boolean logged(Path log, String text) throws Exception {
    return Files.exists(log) && Files.readString(log).contains(text);
  }

  private int status(int port, String path) {
    try {
      return http.send(request(port, path), HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  private String body(int port, String path) throws Exception {
    return http.send(request(port, path), HttpResponse.BodyHandlers.ofString()).body();
  }

  private static HttpRequest request(int port, String path) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build();
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
