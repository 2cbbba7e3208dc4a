package sh.kaito.controller.it;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Predicate;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.controller.ControllerOptions;
import sh.kaito.controller.runtime.WorkspaceController;

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

  static Workspace workspace(KubernetesClient client, String ns, String name) {
    return client.resources(Workspace.class).inNamespace(ns).withName(name).get();
  }
}
