package sh.kaito.controller.manifests;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EmptyDirVolumeSourceBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.KeyToPathBuilder;
import io.fabric8.kubernetes.api.model.NodeAffinity;
import io.fabric8.kubernetes.api.model.NodeAffinityBuilder;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.v1beta1.DataSource;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceAnnotations;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.ControllerOptions;

/**
 * Names, paths and pod pieces shared by the tuning Job and the inference StatefulSet. The command
 * lines are the contract {@code kaito-runtime} implements (docs/controller.md).
 */
public final class Manifests {
  private Manifests() {}

  public static final String RUNTIME_BINARY = "kaito-runtime";

  public static final int RUNTIME_PORT = 5000;
  public static final int SERVICE_HTTP_PORT = 80;

  /** The torch distributed rendezvous port the seed's tuning Service shows (80/TCP,29500/TCP). */
  public static final int TORCH_RENDEZVOUS_PORT = 29500;

  public static final String WEIGHTS_DIR = "/workspace/weights";
  public static final String DATA_DIR = "/mnt/data";
  public static final String CONFIG_DIR = "/mnt/config";
  public static final String ADAPTER_DIR = "/mnt/adapter";
  public static final String DOCKER_CONFIG_DIR = "/root/.docker";

  public static final String VOLUME_DSHM = "dshm";
  public static final String VOLUME_WEIGHTS = "model-weights-volume";
  public static final String VOLUME_DATA = "data-volume";
  public static final String VOLUME_RESULTS = "results-volume";
  public static final String VOLUME_CONFIG = "config-volume";
  public static final String VOLUME_ADAPTERS = "adapter-volume";
  public static final String VOLUME_PUSH_SECRET = "docker-config";
  public static final String VOLUME_OPERATOR_PULL_SECRETS = "operator-pull-secrets";

  public static final String TRAINING_CONFIG_KEY = "training_config.yaml";
  public static final String INFERENCE_CONFIG_KEY = "inference_config.yaml";

  /** {@code kaito.sh/workspace=<name>}: on every object and pod Kaito creates. */
  public static Map<String, String> workspaceLabels(Workspace workspace) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(WorkspaceLabels.WORKSPACE_NAME, workspace.getMetadata().getName());
    return labels;
  }

  /** Metadata of a workload: name and namespace of the workspace, labels, revision, owner. */
  public static io.fabric8.kubernetes.api.model.ObjectMeta workloadMetadata(WorkloadInputs in) {
    return new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
        .withName(in.name())
        .withNamespace(in.namespace())
        .withLabels(workspaceLabels(in.workspace()))
        .withAnnotations(revisionAnnotation(in.revision()))
        .withOwnerReferences(ownerReference(in.workspace()))
        .build();
  }

  /**
   * A GPU pod template: the workspace label, tolerations and node affinity of the workspace, and
   * the operator's registry settings ({@link ControllerOptions#imagePullSecrets()} as {@code
   * imagePullSecrets} and the weights puller's volume; {@code KAITO_INSECURE_REGISTRIES} on every
   * runtime container).
   */
  public static io.fabric8.kubernetes.api.model.PodTemplateSpec podTemplate(
      WorkloadInputs in, List<Container> init, List<Container> containers, List<Volume> volumes) {
    ControllerOptions options = in.options();
    List<Volume> allVolumes = new ArrayList<>(volumes);
    if (!options.imagePullSecrets().isEmpty()) {
      allVolumes.add(pullSecretsVolume(VOLUME_OPERATOR_PULL_SECRETS, options.imagePullSecrets()));
    }
    if (!options.insecureRegistries().isEmpty()) {
      EnvVar insecure =
          new EnvVar(
              "KAITO_INSECURE_REGISTRIES", String.join(",", options.insecureRegistries()), null);
      for (List<Container> list : List.of(init, containers)) {
        for (Container c : list) {
          if (options.runtimeImage().equals(c.getImage())) {
            List<EnvVar> env = new ArrayList<>(c.getEnv() == null ? List.of() : c.getEnv());
            env.add(insecure);
            c.setEnv(env);
          }
        }
      }
    }
    io.fabric8.kubernetes.api.model.PodTemplateSpec template =
        new io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder()
            .withNewMetadata()
            .withLabels(workspaceLabels(in.workspace()))
            .endMetadata()
            .withNewSpec()
            .withInitContainers(init)
            .withContainers(containers)
            .withVolumes(allVolumes)
            .withTolerations(gpuTolerations())
            .withNewAffinity()
            .withNodeAffinity(nodeAffinity(in))
            .endAffinity()
            .endSpec()
            .build();
    if (!options.imagePullSecrets().isEmpty()) {
      template
          .getSpec()
          .setImagePullSecrets(
              options.imagePullSecrets().stream()
                  .map(io.fabric8.kubernetes.api.model.LocalObjectReference::new)
                  .toList());
    }
    return template;
  }

  /** Controller owner reference: garbage collection removes the object with the workspace. */
  public static OwnerReference ownerReference(Workspace workspace) {
    return new OwnerReferenceBuilder()
        .withApiVersion(Workspace.API_VERSION)
        .withKind(Workspace.KIND)
        .withName(workspace.getMetadata().getName())
        .withUid(workspace.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(true)
        .build();
  }

  public static Map<String, String> revisionAnnotation(String revision) {
    Map<String, String> annotations = new LinkedHashMap<>();
    annotations.put(WorkspaceAnnotations.REVISION, revision);
    return annotations;
  }

  /** GPU nodes Kaito provisions are tainted {@code sku=gpu:NoSchedule}; the device plugin's too. */
  public static List<Toleration> gpuTolerations() {
    return List.of(
        new TolerationBuilder()
            .withKey(KarpenterConditions.GPU_RESOURCE)
            .withOperator("Exists")
            .withEffect("NoSchedule")
            .build(),
        new TolerationBuilder()
            .withKey("sku")
            .withOperator("Equal")
            .withValue("gpu")
            .withEffect("NoSchedule")
            .build());
  }

  /** Required node affinity: the user's sanitized matchLabels plus the provisioner's labels. */
  public static NodeAffinity nodeAffinity(WorkloadInputs in) {
    return new NodeAffinityBuilder()
        .withNewRequiredDuringSchedulingIgnoredDuringExecution()
        .addNewNodeSelectorTerm()
        .withMatchExpressions(nodeRequirements(in))
        .endNodeSelectorTerm()
        .endRequiredDuringSchedulingIgnoredDuringExecution()
        .build();
  }

  /** Where the workspace's pods may run: sanitized matchLabels {@code In}, provisioner labels. */
  public static List<NodeSelectorRequirement> nodeRequirements(WorkloadInputs in) {
    List<NodeSelectorRequirement> terms = new ArrayList<>();
    WorkspaceLabels.sanitizedMatchLabels(
            in.workspace().getResource() == null
                ? null
                : in.workspace().getResource().labelSelector())
        .forEach((k, v) -> terms.add(new NodeSelectorRequirement(k, "In", List.of(v))));
    terms.addAll(in.provisionerSelector());
    return terms;
  }

  public static ResourceRequirements gpuResources(int gpus) {
    Quantity q = new Quantity(String.valueOf(gpus));
    return new ResourceRequirementsBuilder()
        .addToRequests(KarpenterConditions.GPU_RESOURCE, q)
        .addToLimits(KarpenterConditions.GPU_RESOURCE, q)
        .build();
  }

  public static Volume emptyDir(String name) {
    return new VolumeBuilder().withName(name).withNewEmptyDir().endEmptyDir().build();
  }

  public static Volume sharedMemory() {
    return new VolumeBuilder()
        .withName(VOLUME_DSHM)
        .withEmptyDir(new EmptyDirVolumeSourceBuilder().withMedium("Memory").build())
        .build();
  }

  /** A user's volume source (schemaless in the CRD) renamed for the pod. */
  public static Volume userVolume(String name, Volume source) {
    return new VolumeBuilder(source).withName(name).build();
  }

  public static Volume configMapVolume(String name, String configMap) {
    return new VolumeBuilder()
        .withName(name)
        .withNewConfigMap()
        .withName(configMap)
        .endConfigMap()
        .build();
  }

  /** A {@code kubernetes.io/dockerconfigjson} Secret as {@code config.json}, for pushing. */
  public static Volume dockerConfigVolume(String name, String secret) {
    return new VolumeBuilder()
        .withName(name)
        .withNewSecret()
        .withSecretName(secret)
        .withItems(
            new KeyToPathBuilder().withKey(".dockerconfigjson").withPath("config.json").build())
        .endSecret()
        .build();
  }

  /**
   * Pull secrets of a data source, projected as {@code <dir>/<secret>.json}; the runtime tries each
   * ({@code --docker-config-dir}).
   */
  public static Volume pullSecretsVolume(String name, List<String> secrets) {
    VolumeBuilder b = new VolumeBuilder().withName(name).withNewProjected().endProjected();
    Volume v = b.build();
    for (String secret : secrets) {
      v.getProjected()
          .getSources()
          .add(
              new io.fabric8.kubernetes.api.model.VolumeProjectionBuilder()
                  .withNewSecret()
                  .withName(secret)
                  .withItems(
                      new KeyToPathBuilder()
                          .withKey(".dockerconfigjson")
                          .withPath(secret + ".json")
                          .build())
                  .endSecret()
                  .build());
    }
    return v;
  }

  public static VolumeMount mount(String volume, String path) {
    return new VolumeMountBuilder().withName(volume).withMountPath(path).build();
  }

  public static VolumeMount mount(String volume, String path, String subPath) {
    return new VolumeMountBuilder()
        .withName(volume)
        .withMountPath(path)
        .withSubPath(subPath)
        .build();
  }

  /** Init container {@code kaito-runtime pull IMAGE DIR --path P [--docker-config-dir D]}. */
  public static Container pullContainer(
      String name,
      String image,
      String imagePath,
      String targetDir,
      String runtimeImage,
      List<VolumeMount> mounts,
      String dockerConfigDir) {
    List<String> args = new ArrayList<>(List.of("pull", image, targetDir, "--path", imagePath));
    if (dockerConfigDir != null) {
      args.add("--docker-config-dir");
      args.add(dockerConfigDir);
    }
    return new ContainerBuilder()
        .withName(name)
        .withImage(runtimeImage)
        .withCommand(RUNTIME_BINARY)
        .withArgs(args)
        .withVolumeMounts(mounts)
        .build();
  }

  /**
   * The weights of a preset into {@code /workspace/weights}, with the operator's pull secrets
   * (mounted from the volume {@link #podTemplate} adds) when it has any.
   */
  public static Container weightsPuller(WorkloadInputs in) {
    boolean secrets = !in.options().imagePullSecrets().isEmpty();
    String configDir = DOCKER_CONFIG_DIR + "/config.d/operator";
    List<VolumeMount> mounts = new ArrayList<>(List.of(mount(VOLUME_WEIGHTS, WEIGHTS_DIR)));
    if (secrets) {
      mounts.add(mount(VOLUME_OPERATOR_PULL_SECRETS, configDir));
    }
    return pullContainer(
        "model-weights-downloader",
        in.options().weightsImage(in.presetName()),
        WEIGHTS_DIR,
        WEIGHTS_DIR,
        in.options().runtimeImage(),
        mounts,
        secrets ? configDir : null);
  }

  /** Image pull secrets named by a data source, never null. */
  public static List<String> pullSecrets(DataSource source) {
    return source == null || source.imagePullSecrets() == null
        ? List.of()
        : source.imagePullSecrets();
  }
}
