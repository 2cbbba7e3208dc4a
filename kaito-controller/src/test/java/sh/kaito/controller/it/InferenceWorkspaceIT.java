package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.controller.it.ControllerHarness.await;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.AdapterSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.runtime.WorkspaceController;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * An inference workspace from create to delete: InferenceReady on a kwok A100 node (labelled {@code
 * accelerator=nvidia} by the controller), an adapter change rolls the StatefulSet to revision 2,
 * deletion leaves no owned object and no NodeClaim.
 */
@WithControlPlane
class InferenceWorkspaceIT {
  static final String NAME = "workspace-phi-3-mini-adapter";
  static final Duration TIMEOUT = Duration.ofSeconds(90);

  @Test
  void readyThenRevisionTwoThenCleanDelete(KubernetesClient client, ControlPlane cp)
      throws Exception {
    String ns = TestNamespaces.create(client, "infer");
    try (KwokNodeClaimFulfiller fulfiller = new KwokNodeClaimFulfiller(client, ns);
        WorkspaceController controller = ControllerHarness.start(client)) {
      ControllerHarness.applyExample(cp, ns, "inference/kaito_workspace_phi_3_with_adapters.yaml");

      Workspace ready = ControllerHarness.awaitInferenceReady(client, ns, NAME, TIMEOUT);
      assertThat(ready.getStatus().state()).isEqualTo("Ready");
      assertThat(ready.getStatus().targetNodeCount()).isEqualTo(1);
      assertThat(ready.getStatus().workerNodes()).hasSize(1);
      assertThat(ready.getMetadata().getAnnotations())
          .containsEntry("workspace.kaito.io/revision", "1");
      assertThat(ready.getMetadata().getFinalizers()).contains(WorkspaceLabels.FINALIZER);
      // The fulfiller's node has no accelerator label; the controller adds it (upstream's gate 3).
      assertThat(client.nodes().withName(ready.getStatus().workerNodes().get(0)).get())
          .satisfies(
              n ->
                  assertThat(n.getMetadata().getLabels())
                      .containsEntry(WorkspaceLabels.ACCELERATOR, "nvidia"));
      assertThat(
              Conditions.find(ready.getStatus().conditions(), WorkspaceConditions.WORKSPACE_READY)
                  .orElseThrow()
                  .getStatus())
          .isEqualTo("True");

      client
          .resources(Workspace.class)
          .inNamespace(ns)
          .withName(NAME)
          .edit(
              w -> {
                w.setInference(
                    w.getInference()
                        .withAdapters(
                            List.of(
                                AdapterSpec.fromImage(
                                    "phi-3-adapter-v2",
                                    "myregistry.azurecr.io/adapters/phi-3-dolly:0.0.2",
                                    "0.5"))));
                return w;
              });
      StatefulSet rolled =
          await(
              "StatefulSet at revision 2",
              TIMEOUT,
              () -> client.apps().statefulSets().inNamespace(ns).withName(NAME).get(),
              s -> "2".equals(s.getMetadata().getAnnotations().get("workspace.kaito.io/revision")));
      assertThat(rolled.getSpec().getTemplate().getSpec().getInitContainers())
          .extracting(Container::getName)
          .containsExactly("model-weights-downloader", "puller-phi-3-adapter-v2");
      assertThat(rolled.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv())
          .anySatisfy(
              e -> {
                assertThat(e.getName()).isEqualTo("phi-3-adapter-v2");
                assertThat(e.getValue()).isEqualTo("0.5");
              });
      assertThat(ControllerHarness.workspace(client, ns, NAME).getMetadata().getAnnotations())
          .containsEntry("workspace.kaito.io/revision", "2");
      assertThat(
              client
                  .apps()
                  .controllerRevisions()
                  .inNamespace(ns)
                  .withLabel("workspace.kaito.io/name", NAME)
                  .list()
                  .getItems())
          .hasSize(2);
      await(
          "InferenceReady again after the roll",
          TIMEOUT,
          () -> ControllerHarness.workspace(client, ns, NAME),
          w -> Conditions.isTrue(w.getStatus().conditions(), WorkspaceConditions.INFERENCE_READY));

      ControllerHarness.deleteAndAwaitNothingLeft(client, cp, ns, NAME, TIMEOUT);
    }
  }

  @Test
  void badInputIsReportedInTheStatusNotFatal(KubernetesClient client) throws Exception {
    String ns = TestNamespaces.create(client, "bad");
    try (WorkspaceController controller = ControllerHarness.start(client)) {
      Workspace unknown =
          sh.kaito.controller.TestWorkspaces.phi3Inference(
              w -> {
                w.getMetadata().setName("unknown-preset");
                w.getMetadata().setNamespace(ns);
                w.getMetadata().setUid(null);
                w.getMetadata().setGeneration(null);
                w.setInference(
                    new sh.kaito.api.v1beta1.InferenceSpec(
                        sh.kaito.api.v1beta1.PresetSpec.named("no-such-model"), null, null, null));
                return w;
              });
      Workspace noInstanceType =
          sh.kaito.controller.TestWorkspaces.phi3Inference(
              w -> {
                w.getMetadata().setName("no-instance-type");
                w.getMetadata().setNamespace(ns);
                w.getMetadata().setUid(null);
                w.getMetadata().setGeneration(null);
                w.setResource(w.getResource().withInstanceType(null));
                return w;
              });
      client.resources(Workspace.class).inNamespace(ns).resource(unknown).create();
      client.resources(Workspace.class).inNamespace(ns).resource(noInstanceType).create();
      for (var expected :
          java.util.Map.of(
                  "unknown-preset", "Unsupported inference preset name no-such-model",
                  "no-instance-type",
                      "instanceType is required when node auto-provisioning is enabled")
              .entrySet()) {
        Workspace w =
            await(
                expected.getKey() + " reported",
                TIMEOUT,
                () -> ControllerHarness.workspace(client, ns, expected.getKey()),
                x ->
                    x.getStatus() != null
                        && Conditions.find(
                                x.getStatus().conditions(), WorkspaceConditions.WORKSPACE_SUCCEEDED)
                            .map(c -> c.getMessage().contains(expected.getValue()))
                            .orElse(false));
        assertThat(
                Conditions.isTrue(w.getStatus().conditions(), WorkspaceConditions.WORKSPACE_READY))
            .isFalse();
      }
      assertThat(
              client
                  .resources(NodeClaim.class)
                  .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
                  .list()
                  .getItems())
          .isEmpty();
      client.resources(Workspace.class).inNamespace(ns).delete();
      await(
          "bad workspaces deleted",
          TIMEOUT,
          () -> client.resources(Workspace.class).inNamespace(ns).list().getItems().size(),
          n -> n == 0);
    }
  }
}
