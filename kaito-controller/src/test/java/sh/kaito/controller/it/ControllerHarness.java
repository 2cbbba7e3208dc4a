package sh.kaito.controller.it;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.ControllerOptions;
import sh.kaito.controller.runtime.WorkspaceController;
import sh.kaito.testsupport.ControlPlane;

/** Starting the controller in the test JVM, and polling helpers. */
final class ControllerHarness {
  private ControllerHarness() {}

  static final ControllerOptions OPTIONS = ControllerOptions.defaults().withWorkers(4);

  static WorkspaceController start(KubernetesClient client) throws Exception {
    WorkspaceController controller =
        new WorkspaceController(client, OPTIONS, new SimpleMeterRegistry());
    controller.start();
    return controller;
  }

  static Path example(String relative) {
    Path p = Path.of("..", "examples", relative).toAbsolutePath().normalize();
    if (!Files.exists(p)) {
      throw new IllegalStateException("missing example " + p);
    }
    return p;
  }

  /** {@code kubectl apply -n NS -f examples/RELATIVE}; fails with kubectl's output. */
  static void applyExample(ControlPlane cp, String ns, String relative) {
    var applied = cp.kubectl("apply", "-n", ns, "-f", example(relative).toString());
    if (applied.exitCode() != 0) {
      throw new AssertionError("kubectl apply " + relative + ": " + applied.output());
    }
  }

  /**
   * Deletes the workspace as a user would and waits until it is gone; by then its NodeClaims must
   * be gone too (the finalizer waits for them), and then everything it owned in the namespace.
   */
  static void deleteAndAwaitNothingLeft(
      KubernetesClient client, ControlPlane cp, String ns, String name, Duration timeout)
      throws InterruptedException {
    var deleted = cp.kubectl("delete", "workspace", name, "-n", ns, "--wait=false");
    if (deleted.exitCode() != 0) {
      throw new AssertionError("kubectl delete: " + deleted.output());
    }
    await("the workspace gone", timeout, () -> workspace(client, ns, name) == null, gone -> gone);
    List<NodeClaim> claims =
        client
            .resources(NodeClaim.class)
            .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
            .list()
            .getItems();
    if (!claims.isEmpty()) {
      throw new AssertionError("NodeClaims left after the finalizer was removed: " + claims);
    }
    await(
        "owned objects collected",
        timeout,
        () ->
            client.apps().statefulSets().inNamespace(ns).list().getItems().size()
                + client.services().inNamespace(ns).list().getItems().size()
                + client.apps().controllerRevisions().inNamespace(ns).list().getItems().size(),
        n -> n == 0);
  }

  /** The NodeClaims labelled with the workspace's name and namespace. */
  static List<NodeClaim> nodeClaims(KubernetesClient client, String ns, String name) {
    return client
        .resources(NodeClaim.class)
        .withLabel(WorkspaceLabels.WORKSPACE_NAME, name)
        .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
        .list()
        .getItems();
  }

  /** Waits until the workspace is InferenceReady and WorkspaceSucceeded. */
  static Workspace awaitInferenceReady(
      KubernetesClient client, String ns, String name, Duration timeout)
      throws InterruptedException {
    return await(
        name + " InferenceReady",
        timeout,
        () -> workspace(client, ns, name),
        w ->
            w.getStatus() != null
                && Conditions.isTrue(
                    w.getStatus().conditions(), WorkspaceConditions.INFERENCE_READY)
                && Conditions.isTrue(
                    w.getStatus().conditions(), WorkspaceConditions.WORKSPACE_SUCCEEDED));
  }

  /** Waits until the workspace's {@code type} condition's message contains {@code fragment}. */
  static Workspace awaitMessage(
      KubernetesClient client,
      String ns,
      String name,
      String type,
      String fragment,
      Duration timeout)
      throws InterruptedException {
    return await(
        name + " " + type + " saying \"" + fragment + "\"",
        timeout,
        () -> workspace(client, ns, name),
        w ->
            w.getStatus() != null
                && Conditions.find(w.getStatus().conditions(), type)
                    .map(c -> c.getMessage() != null && c.getMessage().contains(fragment))
                    .orElse(false));
  }

  /** Polls until {@code check} holds; fails with what was last seen. */
  static <T> T await(
      String what, Duration timeout, java.util.function.Supplier<T> get, Predicate<T> check)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    T last = null;
    while (System.nanoTime() < deadline) {
      last = get.get();
      if (last != null && check.test(last)) {
        return last;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("timed out waiting for " + what + "; last seen: " + last);
  }

  /** The file's text, or "" when it does not exist (yet) or cannot be read. */
  static String readQuietly(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file) : "";
    } catch (java.io.IOException e) {
      return "";
    }
  }

  /**
   * phi-3 inference workspace {@code ns/name} (no uid or generation, ready to create) whose nodes
   * are those labelled {@code apps=<appsLabel>}; {@code more} changes it further.
   */
  static Workspace phi3(
      String ns, String name, String appsLabel, java.util.function.Consumer<Workspace> more) {
    return sh.kaito.controller.TestWorkspaces.phi3Inference(
        w -> {
          w.getMetadata().setName(name);
          w.getMetadata().setNamespace(ns);
          w.getMetadata().setUid(null);
          w.getMetadata().setGeneration(null);
          w.setResource(
              w.getResource()
                  .withLabelSelector(
                      new io.fabric8.kubernetes.api.model.LabelSelectorBuilder()
                          .addToMatchLabels("apps", appsLabel)
                          .build()));
          more.accept(w);
          return w;
        });
  }

  /** Waits until the operator process logging to {@code log} has started its controller. */
  static void awaitControllerStarted(Path log) throws InterruptedException {
    await(
        "controller started (log " + log + ")",
        Duration.ofSeconds(60),
        () -> readQuietly(log),
        t -> t.contains("event=ControllerStarted"));
  }

  /** A TCP port free right now on 127.0.0.1. */
  static int freePort() throws java.io.IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static Workspace workspace(KubernetesClient client, String ns, String name) {
    return client.resources(Workspace.class).inNamespace(ns).withName(name).get();
  }
}
