package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.controller.it.ControllerHarness.await;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.InferenceSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.runtime.WorkspaceController;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * An {@code inference.template} workspace (the project's example) from create to delete: the user's
 * container on the workspace's NodeClaim node, InferenceReady, a template change rolls the
 * StatefulSet to revision 2, deletion leaves nothing; a template the API server refuses is reported
 * in the status.
 */
@WithControlPlane
class TemplateWorkspaceIT {
  static final String NAME = "workspace-custom-llm";
  static final String IMAGE = "myregistry.azurecr.io/my-llm-server:1.2.0";
  static final String IMAGE_V2 = "myregistry.azurecr.io/my-llm-server:1.3.0";
  static final Duration TIMEOUT = Duration.ofSeconds(90);

  @Test
  void readyThenRolledThenCleanDelete(KubernetesClient client, ControlPlane cp) throws Exception {
    String ns = TestNamespaces.create(client, "template");
    try (KwokNodeClaimFulfiller fulfiller = new KwokNodeClaimFulfiller(client, ns);
        WorkspaceController controller = ControllerHarness.start(client)) {
      ControllerHarness.applyExample(cp, ns, "inference/kaito_workspace_custom_template.yaml");

      Workspace ready = ControllerHarness.awaitInferenceReady(client, ns, NAME, TIMEOUT);
      assertThat(ready.getStatus().state()).isEqualTo("Ready");
      assertThat(ready.getStatus().targetNodeCount()).isEqualTo(1);
      assertThat(ready.getMetadata().getAnnotations())
          .containsEntry("workspace.kaito.io/revision", "1");

      StatefulSet sts = client.apps().statefulSets().inNamespace(ns).withName(NAME).get();
      assertThat(sts.getMetadata().getAnnotations())
          .containsEntry("workspace.kaito.io/revision", "1");
      assertThat(sts.getMetadata().getOwnerReferences())
          .singleElement()
          .satisfies(r -> assertThat(r.getUid()).isEqualTo(ready.getMetadata().getUid()));
      assertThat(sts.getSpec().getReplicas()).isEqualTo(1);
      assertThat(sts.getSpec().getSelector().getMatchLabels())
          .containsEntry(WorkspaceLabels.WORKSPACE_NAME, NAME);
      assertThat(sts.getSpec().getTemplate().getMetadata().getLabels())
          .containsEntry(WorkspaceLabels.WORKSPACE_NAME, NAME)
          .containsEntry("team", "research");
      var pod = sts.getSpec().getTemplate().getSpec();
      assertThat(pod.getContainers())
          .extracting(Container::getName, Container::getImage)
          .containsExactly(org.assertj.core.groups.Tuple.tuple("custom-llm", IMAGE));
      assertThat(pod.getTolerations())
          .extracting(Toleration::getKey)
          .containsExactly("sku", "nvidia.com/gpu");
      assertThat(
              pod.getAffinity()
                  .getNodeAffinity()
                  .getRequiredDuringSchedulingIgnoredDuringExecution()
                  .getNodeSelectorTerms()
                  .get(0)
                  .getMatchExpressions())
          .extracting(NodeSelectorRequirement::getKey)
          .containsExactly("apps", "kaito.sh/workspace", "kaito.sh/workspacenamespace");
      assertThat(client.services().inNamespace(ns).withName(NAME).get()).isNotNull();
      assertThat(client.services().inNamespace(ns).withName(NAME + "-headless").get()).isNotNull();

      String nodeName = ready.getStatus().workerNodes().get(0);
      var servingPod = client.pods().inNamespace(ns).withName(NAME + "-0").get();
      assertThat(servingPod.getSpec().getNodeName()).isEqualTo(nodeName);
      assertThat(client.nodes().withName(nodeName).get().getMetadata().getLabels())
          .containsEntry(WorkspaceLabels.ACCELERATOR, "nvidia");

      client
          .resources(Workspace.class)
          .inNamespace(ns)
          .withName(NAME)
          .edit(
              w ->
                  withTemplate(
                      w,
                      t ->
                          t.editSpec()
                              .editFirstContainer()
                              .withImage(IMAGE_V2)
                              .endContainer()
                              .endSpec()));
      StatefulSet rolled =
          await(
              "StatefulSet at revision 2",
              TIMEOUT,
              () -> client.apps().statefulSets().inNamespace(ns).withName(NAME).get(),
              s -> "2".equals(s.getMetadata().getAnnotations().get("workspace.kaito.io/revision")));
      assertThat(rolled.getSpec().getTemplate().getSpec().getContainers().get(0).getImage())
          .isEqualTo(IMAGE_V2);
      assertThat(rolled.getSpec().getTemplate().getSpec().getTolerations())
          .as("the defaults are still there, once")
          .hasSize(2);
      assertThat(ControllerHarness.workspace(client, ns, NAME).getMetadata().getAnnotations())
          .containsEntry("workspace.kaito.io/revision", "2");
      await(
          "the serving pod replaced with the new image",
          TIMEOUT,
          () -> client.pods().inNamespace(ns).withName(NAME + "-0").get(),
          p -> IMAGE_V2.equals(p.getSpec().getContainers().get(0).getImage()));
      ControllerHarness.awaitInferenceReady(client, ns, NAME, TIMEOUT);
      assertThat(
              client
                  .resources(NodeClaim.class)
                  .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
                  .list()
                  .getItems())
          .as("a template change does not ask for another node")
          .hasSize(1);

      ControllerHarness.deleteAndAwaitNothingLeft(client, cp, ns, NAME, TIMEOUT);
      await(
          "the node gone with its NodeClaim",
          TIMEOUT,
          () -> client.nodes().withName(nodeName).get() == null,
          gone -> gone);
    }
  }

  @Test
  void badTemplatesAreReportedInTheStatus(KubernetesClient client) throws Exception {
    String ns = TestNamespaces.create(client, "badtemplate");
    try (KwokNodeClaimFulfiller fulfiller = new KwokNodeClaimFulfiller(client, ns);
        WorkspaceController controller = ControllerHarness.start(client)) {
      created(
          client,
          ns,
          NAME,
          t -> t.editSpec().editFirstContainer().withImage(null).endContainer().endSpec());
      Workspace reported =
          ControllerHarness.awaitMessage(
              client,
              ns,
              NAME,
              WorkspaceConditions.INFERENCE_READY,
              "not a valid StatefulSet pod template",
              TIMEOUT);
      assertThat(
              Conditions.find(
                      reported.getStatus().conditions(), WorkspaceConditions.INFERENCE_READY)
                  .orElseThrow()
                  .getMessage())
          .contains("containers[0].image: Required value");
      assertThat(client.apps().statefulSets().inNamespace(ns).withName(NAME).get()).isNull();

      // What the controller can tell without the API server is refused before any node is made.
      created(client, ns, "never-restarts", t -> t.editSpec().withRestartPolicy("Never").endSpec());
      ControllerHarness.awaitMessage(
          client,
          ns,
          "never-restarts",
          WorkspaceConditions.INFERENCE_READY,
          "restartPolicy is Never",
          TIMEOUT);
      assertThat(
              client
                  .resources(NodeClaim.class)
                  .withLabel(WorkspaceLabels.WORKSPACE_NAME, "never-restarts")
                  .list()
                  .getItems())
          .isEmpty();
      client.resources(Workspace.class).inNamespace(ns).delete();
      await(
          "deleted",
          TIMEOUT,
          () -> client.resources(Workspace.class).inNamespace(ns).list().getItems().size(),
          n -> n == 0);
    }
  }

  /** The example, named {@code name} in {@code ns}, with its template changed, created. */
  private static void created(
      KubernetesClient client,
      String ns,
      String name,
      UnaryOperator<PodTemplateSpecBuilder> change) {
    Workspace ws =
        sh.kaito.controller.TestWorkspaces.customTemplate(
            w -> {
              w.getMetadata().setName(name);
              w.getMetadata().setNamespace(ns);
              w.getMetadata().setUid(null);
              w.getMetadata().setGeneration(null);
              return withTemplate(w, change);
            });
    client.resources(Workspace.class).inNamespace(ns).resource(ws).create();
  }

  private static Workspace withTemplate(Workspace w, UnaryOperator<PodTemplateSpecBuilder> change) {
    var template = change.apply(new PodTemplateSpecBuilder(w.getInference().template())).build();
    w.setInference(new InferenceSpec(null, template, null, null));
    return w;
  }
}
