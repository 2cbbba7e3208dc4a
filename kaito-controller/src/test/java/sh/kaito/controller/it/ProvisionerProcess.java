package sh.kaito.controller.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * kaito-provisioner's {@code ProvisionerMain} with its fake GPU cloud, as a separate JVM on this
 * test's classpath: the NodeClaims the controller creates are served the way they are in a cluster,
 * instead of by the in-process {@link KwokNodeClaimFulfiller}. Closing it stops it.
 */
final class ProvisionerProcess implements AutoCloseable {
  private final Process process;
  private final Path log;

  private ProvisionerProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  /** Starts it and waits until its {@code /readyz} answers 200 (informers synced). */
  static ProvisionerProcess start(Path kubeconfig, Path log) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
            List.of(
                java,
                "-Xmx256m",
                "-cp",
                System.getProperty("java.class.path"),
                "sh.kaito.provisioner.ProvisionerMain",
                "--provider=fake",
                "--kubeconfig=" + kubeconfig,
                "--health-port=" + port,
                "--bind-address=127.0.0.1"));
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    ProvisionerProcess p = new ProvisionerProcess(pb.start(), log);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    HttpRequest ready =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/readyz"))
            .timeout(Duration.ofSeconds(2))
            .build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      if (!p.process.isAlive()) {
        throw new IllegalStateException(
            "the provisioner exited with " + p.process.exitValue() + "; its log: " + log);
      }
      try {
        if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return p;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(100);
    }
    p.close();
    throw new IllegalStateException("the provisioner was not ready within 90 s; its log: " + log);
  }

  Path log() {
    return log;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
