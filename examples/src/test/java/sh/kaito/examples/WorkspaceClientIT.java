package sh.kaito.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import sh.kaito.api.client.WorkspaceClient;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.v1beta1.WorkspaceState;
import sh.kaito.api.v1beta1.WorkspaceStatus;
import sh.kaito.api.yaml.KaitoYaml;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * kaito-api's typed client helpers against a real API server with the project's CRDs: what another
 * Java service would do with a Workspace, including the seed's v1alpha1 columns.
 */
@WithControlPlane
class WorkspaceClientIT {

  @Test
  void createWatchAndReadConditionsThroughTheTypedClient(
      ControlPlane controlPlane, KubernetesClient client) throws Exception {
    String ns = TestNamespaces.create(client, "client");
    WorkspaceClient workspaces = new WorkspaceClient(client);
    Workspace ws =
        KaitoYaml.readWorkspace(Path.of("fine-tuning/kaito_workspace_tuning_phi_3_image.yaml"));
    ws.getMetadata().setNamespace(ns);

    Workspace created = workspaces.create(ws);
    // The server applies the CRD's defaults and nothing else.
    assertThat(created.getResource().count()).isEqualTo(1);
    assertThat(created.getTuning().preset().accessMode()).isEqualTo("public");
    assertThat(created.getTuning().input()).isEqualTo(ws.getTuning().input());
    assertThat(created.getTuning().output()).isEqualTo(ws.getTuning().output());

    BlockingQueue<Workspace> seen = new LinkedBlockingQueue<>();
    String name = ws.getMetadata().getName();
    try (Watch ignored = workspaces.watch(ns, name, seen::add)) {
      Workspace current = workspaces.get(ns, name).orElseThrow();
      List<Condition> conditions =
          Conditions.set(
              List.of(),
              WorkspaceConditions.WORKSPACE_SUCCEEDED,
              true,
              WorkspaceConditions.Reasons.WORKSPACE_SUCCEEDED,
              "workspace succeeds",
              current.getMetadata().getGeneration(),
              Clock.systemUTC());
      for (String type :
          List.of(WorkspaceConditions.RESOURCE_READY, WorkspaceConditions.INFERENCE_READY)) {
        conditions =
            Conditions.set(
                conditions,
                type,
                true,
                "Ready",
                "ready",
                current.getMetadata().getGeneration(),
                Clock.systemUTC());
      }
      conditions =
          Conditions.mirror(
              conditions,
              WorkspaceConditions.WORKSPACE_SUCCEEDED,
              WorkspaceConditions.WORKSPACE_READY,
              Clock.systemUTC());
      current.setStatus(
          WorkspaceStatus.empty().withConditions(conditions).withState(WorkspaceState.SUCCEEDED));
      workspaces.updateStatus(current);

      Workspace done =
          workspaces.waitFor(
              ns,
              name,
              WorkspaceClient.conditionTrue(WorkspaceConditions.WORKSPACE_READY),
              Duration.ofSeconds(30));
      assertThat(done.getStatus().state()).isEqualTo("Succeeded");
      Workspace watched = null;
      for (Workspace w = seen.poll(10, TimeUnit.SECONDS);
          w != null;
          w = seen.poll(2, TimeUnit.SECONDS)) {
        if (Conditions.isTrue(
            WorkspaceClient.conditionsOf(w), WorkspaceConditions.WORKSPACE_READY)) {
          watched = w;
          break;
        }
      }
      assertThat(watched).as("the watch saw the status change").isNotNull();
    }

    // The seed's columns, read through the v1alpha1 view of the same object.
    ControlPlane.CommandResult get =
        controlPlane.kubectl("get", "workspaces.v1alpha1.kaito.sh", name, "-n", ns);
    assertThat(get.exitCode()).as(get.output()).isZero();
    assertThat(get.stdout().lines().toList().get(1).split("\\s+"))
        .startsWith(name, "Standard_NC6s_v3", "True", "True", "True");

    assertThat(workspaces.delete(ns, name)).isTrue();
  }

  @Test
  void aV1alpha1ObjectReadsBackThroughTheTypedV1beta1Client(
      ControlPlane controlPlane, KubernetesClient client) {
    String ns = TestNamespaces.create(client, "alpha");
    ControlPlane.CommandResult apply =
        controlPlane.kubectl(
            "apply",
            "-n",
            ns,
            "-f",
            Path.of("fine-tuning/kaito_workspace_tuning_phi_3.yaml").toAbsolutePath().toString());
    assertThat(apply.exitCode()).as(apply.output()).isZero();

    Workspace read = new WorkspaceClient(client).get(ns, "workspace-tuning-phi-3").orElseThrow();
    assertThat(read.getApiVersion()).isEqualTo(Workspace.API_VERSION);
    assertThat(read.getResource().instanceType()).isEqualTo("Standard_NC6s_v3");
    assertThat(read.getTuning().normalizedMethod()).isEqualTo("qlora");
    assertThat(read.getTuning().output().image())
        .isEqualTo("ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1");
  }
}
