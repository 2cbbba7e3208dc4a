package sh.kaito.images;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import sh.kaito.images.ImageBuilder.Kind;
import sh.kaito.runtime.server.TinyModels;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.WithControlPlane;

/**
 * Each image, pulled from the local registry by our own containerd, runs as a real container under
 * runc: the controller and the provisioner with the command, flags and environment of their
 * Deployments in deploy/ (pointed at the local control plane) answer their health endpoints; the
 * runtime serves a tiny model from a bind-mounted folder, answers /health and /chat, and stops on
 * SIGTERM; the curl image posts to that /chat as the seed's last step does; the pause container
 * waits and stops on SIGTERM too. Host network: no netns, no CNI, no iptables; everything is
 * removed at the end.
 */
@WithControlPlane
class ContainersIT {
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @Test
  void everyImageRunsUnderContainerdAndRunc(KubernetesClient client, ControlPlane cp)
      throws Exception {
    BuiltImages images = BuiltImages.get();
    Path shared = Files.createTempDirectory(Path.of("/tmp"), "kaito-ctr-");
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path dir;
    try (Containerd containerd = Containerd.start()) {
      dir = containerd.dir();
      runEveryImage(images, client, cp, containerd, shared);
    } finally {
      DjlNatives.deleteTree(shared);
    }
    // Nothing of containerd stays mounted or on disk.
    assertThat(Containerd.mountsUnder(dir)).isEmpty();
    assertThat(dir).doesNotExist();
  }

  private void runEveryImage(
      BuiltImages images,
      KubernetesClient client,
      ControlPlane cp,
      Containerd containerd,
      Path shared)
      throws Exception {
    for (Kind kind :
        List.of(Kind.CONTROLLER, Kind.PROVISIONER, Kind.RUNTIME, Kind.PAUSE, Kind.CURL)) {
      containerd.pull(images.reference(kind));
    }
    // The container user (65532) reads the kubeconfig: a world-readable copy in a 0755 folder.
    Path kubeconfig = shared.resolve("kubeconfig");
    Files.copy(cp.kubeconfig(), kubeconfig);
    Files.setPosixFilePermissions(kubeconfig, PosixFilePermissions.fromString("rw-r--r--"));
    String kubeMount =
        "type=bind,src=" + kubeconfig + ",dst=/etc/kaito/kubeconfig,options=rbind:ro";

    // Controller: deploy/controller.yaml's command and args, its env, on free loopback ports.
    Container controller = container(client, "deploy/controller.yaml");
    int controllerHealth = BuiltImages.freePort();
    List<String> controllerOptions = new ArrayList<>(List.of("--mount", kubeMount));
    for (EnvVar e : controller.getEnv()) {
      if (e.getValue() != null) {
        controllerOptions.addAll(List.of("--env", e.getName() + "=" + e.getValue()));
      }
    }
    controllerOptions.addAll(
        env(
            "KUBECONFIG=/etc/kaito/kubeconfig",
            "KAITO_NAMESPACE=default",
            "KAITO_LEADER_ELECT=false",
            "KAITO_WEBHOOK_PORT=0",
            "KAITO_BIND_ADDRESS=127.0.0.1",
            "KAITO_HEALTH_PORT=" + controllerHealth,
            "KAITO_METRICS_PORT=" + BuiltImages.freePort()));
    List<String> controllerArgs = new ArrayList<>(controller.getCommand());
    controllerArgs.addAll(controller.getArgs());
    Path controllerLog = shared.resolve("controller.log");
    containerd.run(
        "controller",
        images.reference(Kind.CONTROLLER),
        controllerOptions,
        controllerArgs,
        controllerLog);

    // Provisioner: deploy/provisioner.yaml's command and args, health port moved off 8081.
    Container provisioner = container(client, "deploy/provisioner.yaml");
    int provisionerHealth = BuiltImages.freePort();
    List<String> provisionerArgs = new ArrayList<>(provisioner.getCommand());
    for (String arg : provisioner.getArgs()) {
      provisionerArgs.add(
          arg.startsWith("--health-port=") ? "--health-port=" + provisionerHealth : arg);
    }
    provisionerArgs.add("--kubeconfig=/etc/kaito/kubeconfig");
    provisionerArgs.add("--bind-address=127.0.0.1");
    Path provisionerLog = shared.resolve("provisioner.log");
    containerd.run(
        "provisioner",
        images.reference(Kind.PROVISIONER),
        List.of("--mount", kubeMount),
        provisionerArgs,
        provisionerLog);

    // Runtime: kaito-runtime serve, as the inference StatefulSet runs it, on a mounted model.
    Path weights = TinyModels.model(shared.resolve("weights"), 128, 5);
    BuiltImages.worldReadable(weights);
    int runtimePort = BuiltImages.freePort();
    Path runtimeLog = shared.resolve("runtime.log");
    containerd.run(
        "runtime",
        images.reference(Kind.RUNTIME),
        List.of("--mount", "type=bind,src=" + weights + ",dst=/workspace/weights,options=rbind:ro"),
        List.of(
            "kaito-runtime",
            "serve",
            "--preset",
            "tiny-preset",
            "--weights",
            "/workspace/weights",
            "--host",
            "127.0.0.1",
            "--port",
            String.valueOf(runtimePort)),
        runtimeLog);

    Path pauseLog = shared.resolve("pause.log");
    containerd.run("pause", images.reference(Kind.PAUSE), List.of(), List.of(), pauseLog);

    await(
        "controller /healthz",
        () -> status(controllerHealth, "/healthz"),
        c -> c == 200,
        controllerLog);
    await(
        "controller /readyz",
        () -> status(controllerHealth, "/readyz"),
        c -> c == 200,
        controllerLog);
    await(
        "provisioner /readyz",
        () -> status(provisionerHealth, "/readyz"),
        c -> c == 200,
        provisionerLog);
    await("runtime /health", () -> status(runtimePort, "/health"), c -> c == 200, runtimeLog);

    HttpResponse<String> chat = BuiltImages.chat(http, "http://127.0.0.1:" + runtimePort);
    assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
    assertThat(chat.body()).contains("\"Result\"");
    // The seed's last step, from our curl image: curl -X POST .../chat, its answer on stdout.
    Path curlLog = shared.resolve("curl.log");
    containerd.run(
        "curl",
        images.reference(Kind.CURL),
        List.of(),
        List.of(
            "curl",
            "-sS",
            "-X",
            "POST",
            "http://127.0.0.1:" + runtimePort + "/chat",
            "-H",
            "accept: application/json",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{\"prompt\": \"Hi\", \"generate_kwargs\": {\"max_new_tokens\": 2}}"),
        curlLog);
    await(
        "curl's /chat answer",
        () -> readOrEmpty(curlLog),
        out -> out.contains("\"Result\""),
        curlLog);

    // libtorch came from the image's /opt/djl: nothing was unpacked or downloaded at start.
    assertThat(Files.readString(runtimeLog))
        .doesNotContain("Extracting")
        .doesNotContain("Downloading");

    assertThat(containerd.status("pause")).isEqualTo("RUNNING");
    for (String id : List.of("runtime", "pause")) {
      containerd.signal(id, "SIGTERM");
      await(
          id + " stopped after SIGTERM",
          () -> statusOf(containerd, id),
          s -> s.equals("STOPPED"),
          runtimeLog);
    }
    assertThat(Files.readString(runtimeLog)).contains("shutting down");
  }

  private Container container(KubernetesClient client, String file) throws Exception {
    try (var in = Files.newInputStream(BuiltImages.repoRoot().resolve(file))) {
      Deployment d = client.apps().deployments().load(in).item();
      return d.getSpec().getTemplate().getSpec().getContainers().get(0);
    }
  }

  private static List<String> env(String... pairs) {
    List<String> out = new ArrayList<>();
    for (String p : pairs) {
      out.add("--env");
      out.add(p);
    }
    return out;
  }

  private static String readOrEmpty(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file) : "";
    } catch (java.io.IOException e) {
      return "";
    }
  }

  private static String statusOf(Containerd containerd, String id) {
    try {
      return containerd.status(id);
    } catch (Exception e) {
      return "";
    }
  }

  private int status(int port, String path) {
    try {
      return http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                  .timeout(Duration.ofSeconds(5))
                  .build(),
              HttpResponse.BodyHandlers.discarding())
          .statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  private static <T> void await(String what, Supplier<T> probe, Predicate<T> done, Path log)
      throws Exception {
    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    T last = null;
    while (System.nanoTime() < deadline) {
      last = probe.get();
      if (done.test(last)) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError(
        "no "
            + what
            + " (last: "
            + last
            + "); log:\n"
            + (Files.exists(log) ? Files.readString(log) : "none"));
  }
}
