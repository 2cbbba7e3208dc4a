package sh.kaito.controller.manifests;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.AdapterSpec;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.yaml.KaitoYaml;
import sh.kaito.controller.ControllerOptions;
import sh.kaito.controller.TestWorkspaces;

class ManifestsTest {
  static final ControllerOptions OPTIONS = ControllerOptions.defaults();
  static final List<NodeSelectorRequirement> OWNED =
      List.of(
          new NodeSelectorRequirement(
              "kaito.sh/workspace", "In", List.of("workspace-tuning-phi-3")),
          new NodeSelectorRequirement("kaito.sh/workspacenamespace", "In", List.of("default")));

  /** What a qlora workspace without a config gets: upstream's default template. */
  static final TuningJobs.TrainingConfig QLORA_DEFAULT =
      new TuningJobs.TrainingConfig("qlora-params-template", "/mnt/results");

  static WorkloadInputs inputs(Workspace ws, String preset, int gpus) {
    return new WorkloadInputs(ws, preset, gpus, 1, "1", OWNED, OPTIONS);
  }

  /** Compares with a golden file; {@code UPDATE_GOLDEN=1} rewrites it (then review the diff). */
  static void assertGolden(Object object, String file) throws IOException {
    String actual = KaitoYaml.write(object);
    Path golden = Path.of("src/test/resources/golden", file);
    if ("1".equals(System.getenv("UPDATE_GOLDEN"))) {
      Files.writeString(golden, actual);
    }
    assertThat(actual).isEqualTo(Files.readString(golden));
  }

  @Test
  void seedNodeClaimHasUpstreamShape() throws IOException {
    Workspace ws = TestWorkspaces.seedTuning();
    NodeClaim claim = NodeClaims.desired(ws, 0, "80Gi", OPTIONS);
    assertThat(claim.getMetadata().getName())
        .matches("ws[0-9a-f]{9}")
        .isEqualTo(NodeClaims.name(ws, 0));
    assertThat(NodeClaims.name(ws, 1)).isNotEqualTo(NodeClaims.name(ws, 0));
    assertThat(claim.getMetadata().getLabels())
        .containsEntry("karpenter.sh/nodepool", "kaito")
        .containsEntry("kaito.sh/workspace", "workspace-tuning-phi-3")
        .containsEntry("kaito.sh/workspacenamespace", "default")
        .containsEntry("app", "tuning-phi-3");
    assertGolden(claim, "seed-nodeclaim.yaml");
  }

  @Test
  void nodeImageFamilyAnnotationIsCopied() {
    Workspace ws = TestWorkspaces.seedTuning();
    ws.getMetadata().setAnnotations(java.util.Map.of("kaito.sh/node-image-family", "azurelinux"));
    assertThat(NodeClaims.desired(ws, 0, null, OPTIONS).getMetadata().getAnnotations())
        .containsEntry("kaito.sh/node-image-family", "azurelinux");
    assertThat(
            NodeClaims.desired(ws, 0, null, OPTIONS)
                .getSpec()
                .getResources()
                .getRequests()
                .get("storage")
                .toString())
        .isEqualTo("1024Gi");
  }

  @Test
  void seedTuningJob() throws IOException {
    Job job =
        TuningJobs.desired(
            inputs(TestWorkspaces.seedTuning(), "phi-3-mini-128k-instruct", 1), QLORA_DEFAULT);
    var pod = job.getSpec().getTemplate().getSpec();
    assertThat(pod.getRestartPolicy()).isEqualTo("Never");
    assertThat(pod.getInitContainers())
        .extracting(Container::getName)
        .containsExactly("model-weights-downloader", "data-downloader");
    assertThat(pod.getContainers())
        .extracting(Container::getName)
        .containsExactly("workspace-tuning-phi-3", "pusher");
    assertGolden(job, "seed-tuning-job.yaml");
  }

  @Test
  void operatorRegistrySettingsReachEveryRuntimeContainerAndTheWeightsPuller() {
    ControllerOptions options =
        ControllerOptions.fromEnv(
            java.util.Map.of(
                "KAITO_PRESET_REGISTRY", "10.88.0.1:5000/kaito",
                "KAITO_IMAGE_PULL_SECRETS", "kaito-registry, other",
                "KAITO_INSECURE_REGISTRIES", "10.88.0.1:5000"));
    Workspace ws = TestWorkspaces.seedTuning();
    var pod =
        TuningJobs.desired(
                new WorkloadInputs(ws, "phi-3-mini-128k-instruct", 1, 1, "1", OWNED, options),
                QLORA_DEFAULT)
            .getSpec()
            .getTemplate()
            .getSpec();
    assertThat(pod.getImagePullSecrets())
        .extracting(io.fabric8.kubernetes.api.model.LocalObjectReference::getName)
        .containsExactly("kaito-registry", "other");
    Container weights = pod.getInitContainers().get(0);
    assertThat(weights.getArgs())
        .containsSubsequence(
            "10.88.0.1:5000/kaito/kaito-phi-3-mini-128k-instruct:0.1.0",
            "--docker-config-dir",
            "/root/.docker/config.d/operator");
    assertThat(pod.getVolumes())
        .filteredOn(v -> v.getName().equals("operator-pull-secrets"))
        .singleElement()
        .satisfies(
            v ->
                assertThat(v.getProjected().getSources())
                    .extracting(src -> src.getSecret().getName())
                    .containsExactly("kaito-registry", "other"));
    List<Container> all = new java.util.ArrayList<>(pod.getInitContainers());
    all.addAll(pod.getContainers());
    assertThat(all).isNotEmpty();
    assertThat(all)
        .allSatisfy(
            c ->
                assertThat(c.getEnv())
                    .contains(
                        new io.fabric8.kubernetes.api.model.EnvVar(
                            "KAITO_INSECURE_REGISTRIES", "10.88.0.1:5000", null)));
    // Without the settings nothing of them appears (the golden files pin the whole shape).
    var plain =
        TuningJobs.desired(inputs(ws, "phi-3-mini-128k-instruct", 1), QLORA_DEFAULT)
            .getSpec()
            .getTemplate()
            .getSpec();
    assertThat(plain.getImagePullSecrets()).isNullOrEmpty();
    assertThat(plain.getInitContainers().get(0).getArgs()).doesNotContain("--docker-config-dir");
  }

  @Test
  void tuningJobWithImageInputAndVolumeOutput() {
    Workspace ws =
        TestWorkspaces.example("fine-tuning/kaito_workspace_tuning_phi_3_image.yaml", w -> w);
    ws.setTuning(
        ws.getTuning()
            .withInput(
                new sh.kaito.api.v1beta1.DataSource(
                    "in", null, null, "myacr.azurecr.io/data:1", List.of("pull-secret"))));
    ws.setTuning(
        ws.getTuning()
            .withOutput(
                DataDestination.ofVolume(
                    new io.fabric8.kubernetes.api.model.VolumeBuilder()
                        .withNewPersistentVolumeClaim()
                        .withClaimName("out")
                        .endPersistentVolumeClaim()
                        .build())));
    var pod =
        TuningJobs.desired(inputs(ws, "phi-3-mini-128k-instruct", 1), QLORA_DEFAULT)
            .getSpec()
            .getTemplate()
            .getSpec();
    assertThat(pod.getInitContainers())
        .extracting(Container::getName)
        .containsExactly("model-weights-downloader", "data-puller");
    assertThat(pod.getInitContainers().get(1).getArgs())
        .containsExactly(
            "pull",
            "myacr.azurecr.io/data:1",
            "/mnt/data",
            "--path",
            "/data",
            "--docker-config-dir",
            "/root/.docker/config.d/tuning-input");
    assertThat(pod.getContainers()).extracting(Container::getName).doesNotContain("pusher");
    assertThat(pod.getVolumes())
        .filteredOn(v -> v.getName().equals("results-volume"))
        .singleElement()
        .satisfies(v -> assertThat(v.getPersistentVolumeClaim().getClaimName()).isEqualTo("out"));
  }

  @Test
  void tuningJobUsesTheConfigsOutputDirAndFailsFastOnReportedErrors() {
    Job job =
        TuningJobs.desired(
            inputs(TestWorkspaces.seedTuning(), "phi-3-mini-128k-instruct", 1),
            new TuningJobs.TrainingConfig("my-config", "/mnt/out/run1"));
    var pod = job.getSpec().getTemplate().getSpec();
    Container tune = pod.getContainers().get(0);
    Container pusher = pod.getContainers().get(1);
    assertThat(tune.getArgs())
        .containsSubsequence("--output", "/mnt/out/run1")
        .containsSubsequence("--config", "/mnt/config/training_config.yaml");
    assertThat(tune.getVolumeMounts())
        .extracting(m -> m.getName() + "=" + m.getMountPath())
        .contains("results-volume=/mnt/out/run1", "config-volume=/mnt/config");
    assertThat(pusher.getArgs())
        .startsWith("push-adapter", "/mnt/out/run1")
        .containsSubsequence("--wait-for", "/mnt/out/run1/fine_tuning_completed.txt");
    assertThat(pusher.getVolumeMounts())
        .extracting(m -> m.getName() + "=" + m.getMountPath())
        .contains("results-volume=/mnt/out/run1");
    assertThat(pod.getVolumes())
        .filteredOn(v -> v.getName().equals("config-volume"))
        .singleElement()
        .satisfies(v -> assertThat(v.getConfigMap().getName()).isEqualTo("my-config"));
    assertThat(List.of(tune, pusher))
        .allSatisfy(
            c -> assertThat(c.getTerminationMessagePolicy()).isEqualTo("FallbackToLogsOnError"));
    var rules = job.getSpec().getPodFailurePolicy().getRules();
    assertThat(rules.get(0).getAction()).isEqualTo("Ignore");
    assertThat(rules.get(0).getOnPodConditions().get(0).getType()).isEqualTo("DisruptionTarget");
    assertThat(rules.subList(1, rules.size()))
        .extracting(
            r ->
                r.getAction()
                    + " "
                    + r.getOnExitCodes().getContainerName()
                    + " "
                    + r.getOnExitCodes().getOperator()
                    + " "
                    + r.getOnExitCodes().getValues())
        .containsExactly(
            "FailJob workspace-tuning-phi-3 In [1, 2]",
            "FailJob pusher In [1, 2]",
            "FailJob model-weights-downloader In [2]",
            "FailJob data-downloader In [2]");
  }

  @Test
  void inferenceStatefulSetWithAdapters() throws IOException {
    Workspace ws = TestWorkspaces.phi3WithAdapters();
    StatefulSet sts =
        InferenceWorkloads.desired(
            new WorkloadInputs(ws, "phi-3-mini-128k-instruct", 1, 1, "1", List.of(), OPTIONS),
            ServedAdapter.of(ws.getInference().adaptersOrEmpty()),
            8L << 30);
    var pod = sts.getSpec().getTemplate().getSpec();
    String adapter = ws.getInference().adapters().get(0).name();
    assertThat(pod.getInitContainers())
        .extracting(Container::getName)
        .containsExactly("model-weights-downloader", "puller-" + adapter);
    assertThat(pod.getContainers().get(0).getEnv()).extracting(EnvVar::getName).contains(adapter);
    assertThat(pod.getContainers().get(0).getStartupProbe().getHttpGet().getPath())
        .isEqualTo("/health");
    assertThat(pod.getVolumes()).extracting(Volume::getName).contains("dshm", "adapter-volume");
    assertThat(sts.getSpec().getServiceName()).isEqualTo(ws.getMetadata().getName() + "-headless");
    assertGolden(sts, "phi3-adapters-statefulset.yaml");
  }

  @Test
  void changingAdaptersChangesTheTemplate() {
    Workspace ws = TestWorkspaces.phi3WithAdapters();
    WorkloadInputs in =
        new WorkloadInputs(ws, "phi-3-mini-128k-instruct", 1, 1, "1", List.of(), OPTIONS);
    StatefulSet before =
        InferenceWorkloads.desired(in, ServedAdapter.of(ws.getInference().adaptersOrEmpty()), 0);
    StatefulSet after =
        InferenceWorkloads.desired(
            in,
            ServedAdapter.of(
                List.of(AdapterSpec.fromImage("other", "myacr.azurecr.io/other:1", "0.5"))),
            0);
    assertThat(after.getSpec().getTemplate()).isNotEqualTo(before.getSpec().getTemplate());
    assertThat(after.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs())
        .contains("other=/mnt/adapter/other");
  }

  @Test
  void startupBudgetIsClamped() {
    assertThat(InferenceWorkloads.startupFailureThreshold(0)).isEqualTo(180); // 30 min
    assertThat(InferenceWorkloads.startupFailureThreshold(10_000L << 30))
        .isEqualTo(1080); // 180 min
  }

  @Test
  void servicesOfATuningWorkspace() {
    Workspace ws = TestWorkspaces.seedTuning();
    assertThat(Services.main(ws).getSpec().getPorts())
        .extracting(ServicePort::getPort)
        .containsExactly(80, 29500);
    assertThat(Services.main(ws).getSpec().getSelector())
        .containsEntry("statefulset.kubernetes.io/pod-name", "workspace-tuning-phi-3-0");
    Workspace inference = TestWorkspaces.phi3Inference(w -> w);
    assertThat(Services.main(inference).getSpec().getPorts())
        .extracting(ServicePort::getPort)
        .containsExactly(80);
    assertThat(Services.headless(inference).getSpec().getClusterIP()).isEqualTo("None");
  }

  @Test
  void adaptersWithoutSourceAreSkippedNotFatal() {
    assertThat(ServedAdapter.of(java.util.Arrays.asList(new AdapterSpec(null, "1.0"), null)))
        .isEmpty();
  }
}
