package sh.kaito.controller.manifests;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.controller.manifests.ManifestsTest.assertGolden;

import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import java.io.IOException;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import sh.kaito.api.v1beta1.AdapterSpec;
import sh.kaito.api.v1beta1.InferenceSpec;
import sh.kaito.api.v1beta1.PresetSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.controller.TestWorkspaces;

class TemplateWorkloadsTest {
  static final String NAME = "workspace-custom-llm";
  static final List<NodeSelectorRequirement> OWNED =
      List.of(
          new NodeSelectorRequirement("kaito.sh/workspace", "In", List.of(NAME)),
          new NodeSelectorRequirement("kaito.sh/workspacenamespace", "In", List.of("default")));
  static final List<NodeSelectorRequirement> WORKSPACE_NODES =
      List.of(
          new NodeSelectorRequirement("apps", "In", List.of("custom-llm")),
          OWNED.get(0),
          OWNED.get(1));

  static WorkloadInputs inputs(Workspace ws, int replicas, String revision) {
    return new WorkloadInputs(ws, null, 1, replicas, revision, OWNED, ManifestsTest.OPTIONS);
  }

  static Workspace withTemplate(UnaryOperator<PodTemplateSpecBuilder> change) {
    return TestWorkspaces.customTemplate(
        w -> {
          PodTemplateSpec t =
              change.apply(new PodTemplateSpecBuilder(w.getInference().template())).build();
          w.setInference(new InferenceSpec(null, t, null, null));
          return w;
        });
  }

  @Test
  void theExampleRunsAsWrittenOnTheWorkspaceNodes() throws IOException {
    Workspace ws = TestWorkspaces.customTemplate(w -> w);
    StatefulSet sts = TemplateWorkloads.desired(inputs(ws, 2, "1"));

    assertThat(sts.getMetadata().getName()).isEqualTo(NAME);
    assertThat(sts.getMetadata().getAnnotations())
        .containsEntry("workspace.kaito.io/revision", "1");
    assertThat(sts.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(r -> assertThat(r.getKind()).isEqualTo("Workspace"));
    assertThat(sts.getSpec().getReplicas()).isEqualTo(2);
    assertThat(sts.getSpec().getServiceName()).isEqualTo(NAME + "-headless");
    assertThat(sts.getSpec().getSelector().getMatchLabels())
        .containsExactlyEntriesOf(java.util.Map.of("kaito.sh/workspace", NAME));
    assertThat(sts.getSpec().getTemplate().getMetadata().getLabels())
        .containsEntry("kaito.sh/workspace", NAME)
        .containsEntry("team", "research");

    var pod = sts.getSpec().getTemplate().getSpec();
    assertThat(pod.getContainers())
        .extracting(Container::getName, Container::getImage)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "custom-llm", "myregistry.azurecr.io/my-llm-server:1.2.0"));
    assertThat(pod.getInitContainers()).as("no preset, no weights puller").isNullOrEmpty();
    assertThat(pod.getContainers().get(0).getArgs()).containsExactly("--port", "5000");
    // The example already tolerates sku=gpu; it is not added twice.
    assertThat(pod.getTolerations())
        .extracting(Toleration::getKey)
        .containsExactly("sku", "nvidia.com/gpu");
    assertThat(
            pod.getAffinity()
                .getNodeAffinity()
                .getRequiredDuringSchedulingIgnoredDuringExecution()
                .getNodeSelectorTerms())
        .singleElement()
        .satisfies(t -> assertThat(t.getMatchExpressions()).isEqualTo(WORKSPACE_NODES));
    assertGolden(sts, "custom-template-statefulset.yaml");
  }

  @Test
  void theUsersSchedulingIsKeptAndNarrowedToTheWorkspaceNodes() {
    Affinity user =
        new AffinityBuilder()
            .withNewNodeAffinity()
            .withNewRequiredDuringSchedulingIgnoredDuringExecution()
            .addNewNodeSelectorTerm()
            .addNewMatchExpression()
            .withKey("topology.kubernetes.io/zone")
            .withOperator("In")
            .withValues("eastus-1")
            .endMatchExpression()
            .endNodeSelectorTerm()
            .addNewNodeSelectorTerm()
            .addNewMatchField()
            .withKey("metadata.name")
            .withOperator("In")
            .withValues("gpu-7")
            .endMatchField()
            .endNodeSelectorTerm()
            .endRequiredDuringSchedulingIgnoredDuringExecution()
            .addNewPreferredDuringSchedulingIgnoredDuringExecution()
            .withWeight(10)
            .withNewPreference()
            .addNewMatchExpression()
            .withKey("fast")
            .withOperator("Exists")
            .endMatchExpression()
            .endPreference()
            .endPreferredDuringSchedulingIgnoredDuringExecution()
            .endNodeAffinity()
            .withNewPodAntiAffinity()
            .addNewRequiredDuringSchedulingIgnoredDuringExecution()
            .withTopologyKey("kubernetes.io/hostname")
            .withNewLabelSelector()
            .addToMatchLabels("team", "research")
            .endLabelSelector()
            .endRequiredDuringSchedulingIgnoredDuringExecution()
            .endPodAntiAffinity()
            .build();
    Workspace ws = withTemplate(t -> t.editSpec().withAffinity(user).endSpec());
    PodTemplateSpec before = new PodTemplateSpecBuilder(ws.getInference().template()).build();

    var affinity =
        TemplateWorkloads.desired(inputs(ws, 1, "1"))
            .getSpec()
            .getTemplate()
            .getSpec()
            .getAffinity();

    assertThat(affinity.getPodAntiAffinity()).isEqualTo(user.getPodAntiAffinity());
    assertThat(affinity.getNodeAffinity().getPreferredDuringSchedulingIgnoredDuringExecution())
        .isEqualTo(user.getNodeAffinity().getPreferredDuringSchedulingIgnoredDuringExecution());
    List<NodeSelectorTerm> terms =
        affinity
            .getNodeAffinity()
            .getRequiredDuringSchedulingIgnoredDuringExecution()
            .getNodeSelectorTerms();
    assertThat(terms).hasSize(2);
    assertThat(terms.get(0).getMatchExpressions())
        .extracting(NodeSelectorRequirement::getKey)
        .containsExactly(
            "topology.kubernetes.io/zone",
            "apps",
            "kaito.sh/workspace",
            "kaito.sh/workspacenamespace");
    assertThat(terms.get(1).getMatchFields()).hasSize(1);
    assertThat(terms.get(1).getMatchExpressions()).isEqualTo(WORKSPACE_NODES);
    assertThat(ws.getInference().template()).as("the workspace is not modified").isEqualTo(before);
  }

  @Test
  void withoutAnyNodeRequirementTheUsersAffinityIsLeftAlone() {
    assertThat(TemplateWorkloads.onWorkspaceNodes(null, List.of())).isNull();
  }

  @Test
  void templatesThatCannotRunAreExplained() {
    assertThat(TemplateWorkloads.problem(TestWorkspaces.customTemplate(w -> w))).isEmpty();
    assertThat(
            TemplateWorkloads.problem(
                withTemplate(t -> t.editSpec().withContainers(List.of()).endSpec())))
        .contains("inference.template.spec.containers must list at least one container");
    assertThat(
            TemplateWorkloads.problem(
                withTemplate(t -> t.editSpec().withRestartPolicy("Never").endSpec())))
        .hasValueSatisfying(m -> assertThat(m).contains("restartPolicy is Never"));
    assertThat(
            TemplateWorkloads.problem(
                TestWorkspaces.customTemplate(
                    w -> {
                      w.setInference(
                          w.getInference()
                              .withAdapters(
                                  List.of(
                                      AdapterSpec.fromImage("a", "myacr.azurecr.io/a:1", "1"))));
                      return w;
                    })))
        .hasValueSatisfying(m -> assertThat(m).contains("apply to presets only"));
    assertThat(
            TemplateWorkloads.problem(
                TestWorkspaces.customTemplate(
                    w -> {
                      w.setInference(
                          new InferenceSpec(
                              PresetSpec.named("phi-3-mini-4k-instruct"),
                              w.getInference().template(),
                              null,
                              null));
                      return w;
                    })))
        .contains("Preset and Template cannot be set at the same time");
  }

  @Test
  void aNewRevisionReplacesThePodTemplateOnly() {
    Workspace ws = TestWorkspaces.customTemplate(w -> w);
    StatefulSet current =
        new StatefulSetBuilder(TemplateWorkloads.desired(inputs(ws, 1, "1")))
            .editMetadata()
            .withResourceVersion("42")
            .addToAnnotations("note", "kept")
            .endMetadata()
            .editSpec()
            .withReplicas(3)
            .endSpec()
            .build();
    Workspace changed =
        withTemplate(
            t ->
                t.editSpec()
                    .editFirstContainer()
                    .withImage("myregistry.azurecr.io/my-llm-server:1.3.0")
                    .endContainer()
                    .endSpec());
    StatefulSet desired = TemplateWorkloads.desired(inputs(changed, 1, "2"));

    StatefulSet next = TemplateWorkloads.rolled(current, desired);

    assertThat(next.getSpec().getTemplate()).isEqualTo(desired.getSpec().getTemplate());
    assertThat(next.getSpec().getTemplate().getSpec().getContainers().get(0).getImage())
        .isEqualTo("myregistry.azurecr.io/my-llm-server:1.3.0");
    assertThat(next.getSpec().getReplicas()).isEqualTo(3);
    assertThat(next.getMetadata().getResourceVersion()).isEqualTo("42");
    assertThat(next.getMetadata().getAnnotations())
        .containsEntry("workspace.kaito.io/revision", "2")
        .containsEntry("note", "kept");
    assertThat(current.getMetadata().getAnnotations())
        .containsEntry("workspace.kaito.io/revision", "1");
  }

  @Test
  void onlyInferenceWorkspacesWithATemplateRunOne() {
    assertThat(TemplateWorkloads.isTemplate(TestWorkspaces.customTemplate(w -> w))).isTrue();
    assertThat(TemplateWorkloads.isTemplate(TestWorkspaces.phi3Inference(w -> w))).isFalse();
    assertThat(TemplateWorkloads.isTemplate(TestWorkspaces.seedTuning())).isFalse();
  }
}
