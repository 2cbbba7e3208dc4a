package sh.kaito.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The project's Workspace CRD, installed into a real API server, accepts the seed's example, prints
 * the seed's columns, refuses invalid objects with the API server's own message and keeps status
 * behind the status subresource.
 */
@WithControlPlane
class WorkspaceCrdIT {

  private static final String EXAMPLE = "examples/fine-tuning/kaito_workspace_tuning_phi_3.yaml";

  @Test
  void theSeedExampleAppliesUnchangedAndPrintsTheSeedColumns(
      ControlPlane controlPlane, KubernetesClient client) {
    String ns = TestNamespaces.create(client, "example");

    ControlPlane.CommandResult apply =
        controlPlane.kubectl("apply", "-n", ns, "-f", example().toString());
    assertThat(apply.exitCode()).as(apply.output()).isZero();
    assertThat(apply.stdout()).contains("workspace.kaito.sh/workspace-tuning-phi-3 created");

    ControlPlane.CommandResult get = controlPlane.kubectl("get", "workspace", "-n", ns);
    assertThat(get.exitCode()).as(get.output()).isZero();
    List<String> lines = get.stdout().lines().toList();
    assertThat(lines.get(0).split("\\s+"))
        .containsExactly(
            "NAME", "INSTANCE", "RESOURCEREADY", "INFERENCEREADY", "WORKSPACEREADY", "AGE");
    assertThat(lines).hasSize(2);
    assertThat(lines.get(1).split("\\s+")).startsWith("workspace-tuning-phi-3", "Standard_NC6s_v3");
  }

  @Test
  void anInvalidWorkspaceIsRefusedByTheApiServer(KubernetesClient client) {
    String ns = TestNamespaces.create(client, "invalid");
    GenericKubernetesResource workspace = exampleWorkspace(client);
    resourceSection(workspace).put("count", "two");

    assertThatThrownBy(() -> workspaces(client, workspace, ns).resource(workspace).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getMessage())
                  .contains("resource.count")
                  .contains("must be of type integer");
            });
    assertThat(workspaces(client, workspace, ns).list().getItems()).isEmpty();
  }

  @Test
  void aStatusUpdateThroughTheSubresourceReachesAWatch(KubernetesClient client)
      throws InterruptedException {
    String ns = TestNamespaces.create(client, "status");
    GenericKubernetesResource created =
        workspaces(client, exampleWorkspace(client), ns)
            .resource(exampleWorkspace(client))
            .create();
    NonNamespaceOperation<
            GenericKubernetesResource,
            GenericKubernetesResourceList,
            Resource<GenericKubernetesResource>>
        all = workspaces(client, created, ns);
    Resource<GenericKubernetesResource> workspace = all.withName(created.getMetadata().getName());

    BlockingQueue<GenericKubernetesResource> seen = new LinkedBlockingQueue<>();
    Watch watch =
        workspace.watch(
            new Watcher<>() {
              @Override
              public void eventReceived(Action action, GenericKubernetesResource resource) {
                if (action == Action.MODIFIED) {
                  seen.add(resource);
                }
              }

              @Override
              public void onClose(WatcherException cause) {}
            });
    try {
      // Status written through the main resource is dropped: the subresource owns it.
      GenericKubernetesResource viaMain = workspace.get();
      viaMain.setAdditionalProperty("status", status("ResourceReady", "False"));
      all.resource(viaMain).update();
      assertThat(workspace.get().getAdditionalProperties()).doesNotContainKey("status");

      GenericKubernetesResource viaStatus = workspace.get();
      viaStatus.setAdditionalProperty("status", status("ResourceReady", "True"));
      all.resource(viaStatus).updateStatus();

      GenericKubernetesResource event = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (event == null || !event.getAdditionalProperties().containsKey("status")) {
        long left = deadline - System.nanoTime();
        assertThat(left).as("a watch event carrying the new status").isPositive();
        event = seen.poll(left, TimeUnit.NANOSECONDS);
      }
      assertThat(conditions(event))
          .singleElement()
          .satisfies(
              c -> {
                assertThat(c).containsEntry("type", "ResourceReady");
                assertThat(c).containsEntry("status", "True");
              });
    } finally {
      watch.close();
    }
  }

  private static Path example() {
    Path root = RepoRoot.find().orElseThrow();
    Path file = root.resolve(EXAMPLE);
    assertThat(file).as("the seed example").isRegularFile();
    return file;
  }

  private static GenericKubernetesResource exampleWorkspace(KubernetesClient client) {
    try {
      return client
          .getKubernetesSerialization()
          .unmarshal(Files.readString(example()), GenericKubernetesResource.class);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static NonNamespaceOperation<
          GenericKubernetesResource,
          GenericKubernetesResourceList,
          Resource<GenericKubernetesResource>>
      workspaces(KubernetesClient client, GenericKubernetesResource like, String ns) {
    return client.genericKubernetesResources(like.getApiVersion(), like.getKind()).inNamespace(ns);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> resourceSection(GenericKubernetesResource workspace) {
    return (Map<String, Object>) workspace.getAdditionalProperties().get("resource");
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> conditions(GenericKubernetesResource workspace) {
    Map<String, Object> status =
        (Map<String, Object>) workspace.getAdditionalProperties().get("status");
    return (List<Map<String, Object>>) status.get("conditions");
  }

  private static Map<String, Object> status(String type, String value) {
    Map<String, Object> condition = new LinkedHashMap<>();
    condition.put("type", type);
    condition.put("status", value);
    condition.put("reason", "TestSetsIt");
    condition.put("message", "set by WorkspaceCrdIT");
    condition.put("lastTransitionTime", "2026-01-01T00:00:00Z");
    List<Map<String, Object>> conditions = new ArrayList<>();
    conditions.add(condition);
    return Map.of("conditions", conditions);
  }
}
