package sh.kaito.api.client;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeClaimList;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceList;
import sh.kaito.api.v1beta1.WorkspaceStatus;

/**
 * Typed access to Workspaces and NodeClaims through a fabric8 client, for services that create
 * workspaces and follow their progress. The caller owns the client.
 *
 * <pre>{@code
 * WorkspaceClient workspaces = new WorkspaceClient(client);
 * workspaces.create(ws);
 * try (Watch w = workspaces.watch("default", "my-ws", changed -> print(changed))) { ... }
 * workspaces.waitFor("default", "my-ws", WorkspaceClient.conditionTrue("WorkspaceReady"),
 *     Duration.ofMinutes(30));
 * }</pre>
 */
public final class WorkspaceClient {
  private final KubernetesClient client;

  public WorkspaceClient(KubernetesClient client) {
    this.client = client;
  }

  /** The fabric8 operation for Workspaces, for anything not wrapped here. */
  public MixedOperation<Workspace, WorkspaceList, Resource<Workspace>> workspaces() {
    return client.resources(Workspace.class, WorkspaceList.class);
  }

  /** The fabric8 operation for the cluster-scoped NodeClaims. */
  public NonNamespaceOperation<NodeClaim, NodeClaimList, Resource<NodeClaim>> nodeClaims() {
    return client.resources(NodeClaim.class, NodeClaimList.class);
  }

  /** Creates the workspace in its namespace (the client's default when it names none). */
  public Workspace create(Workspace workspace) {
    return workspaces().resource(workspace).create();
  }

  /** The workspace, or empty when it does not exist. */
  public Optional<Workspace> get(String namespace, String name) {
    return Optional.ofNullable(workspaces().inNamespace(namespace).withName(name).get());
  }

  /** Deletes the workspace; true when something was deleted. */
  public boolean delete(String namespace, String name) {
    return !workspaces().inNamespace(namespace).withName(name).delete().isEmpty();
  }

  /** Replaces the status through the status subresource (what a controller does). */
  public Workspace updateStatus(Workspace workspace) {
    return workspaces().resource(workspace).updateStatus();
  }

  /**
   * Calls {@code onChange} with the workspace each time it is added or modified (including status
   * changes). Close the returned watch to stop.
   */
  public Watch watch(String namespace, String name, Consumer<Workspace> onChange) {
    return workspaces()
        .inNamespace(namespace)
        .withName(name)
        .watch(
            new Watcher<>() {
              @Override
              public void eventReceived(Action action, Workspace resource) {
                if (action == Action.ADDED || action == Action.MODIFIED) {
                  onChange.accept(resource);
                }
              }

              @Override
              public void onClose(WatcherException cause) {}
            });
  }

  /**
   * Waits until the workspace satisfies {@code condition}, e.g. {@link #conditionTrue(String)}.
   *
   * @return the workspace as it was when the condition held
   * @throws IllegalStateException when the timeout passes first
   */
  public Workspace waitFor(
      String namespace, String name, Predicate<Workspace> condition, Duration timeout) {
    try {
      return workspaces()
          .inNamespace(namespace)
          .withName(name)
          .waitUntilCondition(
              w -> w != null && condition.test(w), timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (io.fabric8.kubernetes.client.KubernetesClientTimeoutException e) {
      throw new IllegalStateException(
          "workspace " + namespace + "/" + name + " did not reach the condition in " + timeout, e);
    }
  }

  /** A predicate for {@link #waitFor}: the condition of this type is True. */
  public static Predicate<Workspace> conditionTrue(String type) {
    return w -> Conditions.isTrue(conditionsOf(w), type);
  }

  /** The workspace's conditions, never null. */
  public static List<Condition> conditionsOf(Workspace workspace) {
    WorkspaceStatus status = workspace.getStatus();
    return status == null ? List.of() : status.conditionsOrEmpty();
  }
}
