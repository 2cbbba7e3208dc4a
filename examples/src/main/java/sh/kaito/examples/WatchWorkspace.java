package sh.kaito.examples;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import sh.kaito.api.client.WorkspaceClient;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.yaml.KaitoYaml;

/**
 * A small program that uses kaito-api as another Java service would: creates a Workspace from a
 * YAML file (unless it exists) in the cluster named by {@code KUBECONFIG}, then prints its
 * conditions each time they change until {@code WorkspaceSucceeded} is True or the time is up.
 *
 * <pre>
 * WatchWorkspace FILE [NAMESPACE] [MINUTES]
 * </pre>
 */
public final class WatchWorkspace {
  private WatchWorkspace() {}

  public static void main(String[] args) throws InterruptedException {
    if (args.length < 1) {
      System.err.println("usage: WatchWorkspace FILE [NAMESPACE] [MINUTES]");
      System.exit(2);
    }
    Workspace workspace = KaitoYaml.readWorkspace(Path.of(args[0]));
    String namespace = args.length > 1 ? args[1] : "default";
    Duration timeout = Duration.ofMinutes(args.length > 2 ? Long.parseLong(args[2]) : 30);
    workspace.getMetadata().setNamespace(namespace);
    String name = workspace.getMetadata().getName();

    try (KubernetesClient client = new KubernetesClientBuilder().build()) {
      WorkspaceClient workspaces = new WorkspaceClient(client);
      if (workspaces.get(namespace, name).isEmpty()) {
        workspaces.create(workspace);
        System.out.println("created workspace " + namespace + "/" + name);
      }
      AtomicReference<String> last = new AtomicReference<>("");
      try (Watch ignored = workspaces.watch(namespace, name, w -> print(w, last))) {
        workspaces.get(namespace, name).ifPresent(w -> print(w, last));
        workspaces.waitFor(
            namespace,
            name,
            WorkspaceClient.conditionTrue(WorkspaceConditions.WORKSPACE_SUCCEEDED),
            timeout);
        System.out.println("workspace " + namespace + "/" + name + " succeeded");
      }
    }
  }

  private static synchronized void print(Workspace workspace, AtomicReference<String> last) {
    List<Condition> conditions = WorkspaceClient.conditionsOf(workspace);
    StringBuilder line = new StringBuilder();
    for (Condition c : conditions) {
      line.append(
          String.format(
              "  %-20s %-7s %-32s %s%n",
              c.getType(), c.getStatus(), c.getReason(), c.getMessage()));
    }
    String text = line.toString();
    if (!Objects.equals(text, last.getAndSet(text))) {
      String state = workspace.getStatus() == null ? null : workspace.getStatus().state();
      System.out.println("--- " + workspace.getMetadata().getName() + " state=" + state);
      System.out.print(text.isEmpty() ? "  (no conditions yet)\n" : text);
    }
  }
}
