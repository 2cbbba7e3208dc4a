package sh.kaito.controller.manifests;

import static sh.kaito.controller.manifests.Manifests.*;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicy;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyBuilder;
import java.util.ArrayList;
import java.util.List;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.DataSource;
import sh.kaito.api.v1beta1.TuningSpec;

/**
 * The tuning Job (contract §2.6) with our runtime image only: init containers pull the weights and
 * the data, {@code tune} trains with the training config mounted at {@code /mnt/config} and writes
 * the adapter to the config's {@code output_dir}, the {@code pusher} sidecar pushes the adapter
 * when training wrote its completion marker there.
 *
 * <p>Bad input fails the Job at once instead of retrying it: {@code tune} and {@code push-adapter}
 * exit 1 (failed) or 2 (bad usage) on errors a retry cannot fix, and a pod failure policy turns
 * those exit codes (and exit 2 of an init container) into a failed Job; any other exit (a failed
 * download, a kill, an OOM kill: 137) is retried up to the default backoff limit, and a disrupted
 * pod (eviction, preemption) is not counted. Each container's last words are its termination
 * message ({@code /dev/termination-log}, else the end of its log), which the controller shows in
 * the workspace's condition.
 *
 * <p>No image reference is parsed here: the seed's placeholder output image ({@code
 * ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1}) is passed through as written, and the runtime
 * reports it when it tries to push.
 */
public final class TuningJobs {
  private TuningJobs() {}

  public static final String PUSHER = "pusher";
  public static final String COMPLETION_MARKER_FILE = "fine_tuning_completed.txt";

  /** Exit codes of {@code kaito-runtime}: 1 failed, 2 bad usage (docs/runtime-cli.md). */
  static final List<Integer> FATAL_EXIT_CODES = List.of(1, 2);

  static final int USAGE_EXIT_CODE = 2;

  /**
   * The training config the Job runs with.
   *
   * @param configMap the ConfigMap mounted at {@code /mnt/config} (the workspace's {@code
   *     tuning.config}, or the method's default template)
   * @param outputDir where training writes the adapter: the config's resolved {@code output_dir}
   */
  public record TrainingConfig(String configMap, String outputDir) {}

  public static Job desired(WorkloadInputs in, TrainingConfig config) {
    TuningSpec tuning = in.workspace().getTuning();
    DataSource input = tuning.input();
    DataDestination output = tuning.output();

    List<Volume> volumes = new ArrayList<>();
    volumes.add(sharedMemory());
    volumes.add(emptyDir(VOLUME_WEIGHTS));
    volumes.add(
        input != null && input.volumeSource() != null
            ? userVolume(VOLUME_DATA, input.volumeSource())
            : emptyDir(VOLUME_DATA));
    volumes.add(
        output != null && output.volumeSource() != null
            ? userVolume(VOLUME_RESULTS, output.volumeSource())
            : emptyDir(VOLUME_RESULTS));
    volumes.add(configMapVolume(VOLUME_CONFIG, config.configMap()));
    String outputDir = config.outputDir();

    List<Container> init = new ArrayList<>();
    init.add(weightsPuller(in));
    if (input != null && input.image() != null && !input.image().isEmpty()) {
      String secretsVolume = "docker-config-tuning-input";
      String dir = null;
      List<VolumeMount> mounts = new ArrayList<>(List.of(mount(VOLUME_DATA, DATA_DIR)));
      if (!pullSecrets(input).isEmpty()) {
        volumes.add(pullSecretsVolume(secretsVolume, pullSecrets(input)));
        dir = DOCKER_CONFIG_DIR + "/config.d/tuning-input";
        mounts.add(mount(secretsVolume, dir));
      }
      init.add(
          pullContainer(
              "data-puller",
              input.image(),
              "/data",
              DATA_DIR,
              in.options().runtimeImage(),
              mounts,
              dir));
    }
    if (input != null && !input.urlsOrEmpty().isEmpty()) {
      List<String> args = new ArrayList<>(List.of("fetch-data", "--to", DATA_DIR));
      args.addAll(input.urlsOrEmpty());
      init.add(
          new ContainerBuilder()
              .withName("data-downloader")
              .withImage(in.options().runtimeImage())
              .withCommand(RUNTIME_BINARY)
              .withArgs(args)
              .withVolumeMounts(mount(VOLUME_DATA, DATA_DIR))
              .build());
    }

    List<VolumeMount> tuneMounts = new ArrayList<>();
    tuneMounts.add(mount(VOLUME_DSHM, "/dev/shm"));
    tuneMounts.add(mount(VOLUME_WEIGHTS, WEIGHTS_DIR));
    tuneMounts.add(mount(VOLUME_DATA, DATA_DIR));
    tuneMounts.add(mount(VOLUME_RESULTS, outputDir));
    tuneMounts.add(mount(VOLUME_CONFIG, CONFIG_DIR));
    List<String> tuneArgs =
        new ArrayList<>(
            List.of(
                "tune",
                "--preset",
                in.presetName(),
                "--method",
                tuning.normalizedMethod(),
                "--weights",
                WEIGHTS_DIR,
                "--data",
                DATA_DIR,
                "--output",
                outputDir,
                "--gpus",
                String.valueOf(in.gpusPerNode()),
                "--port",
                String.valueOf(RUNTIME_PORT),
                "--config",
                CONFIG_DIR + "/" + TRAINING_CONFIG_KEY));
    List<Container> containers = new ArrayList<>();
    containers.add(
        new ContainerBuilder()
            .withName(in.name())
            .withImage(in.options().runtimeImage())
            .withCommand(RUNTIME_BINARY)
            .withArgs(tuneArgs)
            .withResources(gpuResources(in.gpusPerNode()))
            .withPorts(
                new ContainerPortBuilder().withName("http").withContainerPort(RUNTIME_PORT).build())
            .withEnv(new EnvVar("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True", null))
            .withTerminationMessagePolicy(FALLBACK_TO_LOGS)
            .withVolumeMounts(tuneMounts)
            .build());

    if (output != null && output.image() != null && !output.image().isEmpty()) {
      List<VolumeMount> pushMounts = new ArrayList<>(List.of(mount(VOLUME_RESULTS, outputDir)));
      List<String> pushArgs =
          new ArrayList<>(
              List.of(
                  "push-adapter",
                  outputDir,
                  output.image(),
                  "--preset",
                  in.presetName(),
                  "--wait-for",
                  outputDir + "/" + COMPLETION_MARKER_FILE));
      if (output.imagePushSecret() != null && !output.imagePushSecret().isEmpty()) {
        volumes.add(dockerConfigVolume(VOLUME_PUSH_SECRET, output.imagePushSecret()));
        pushMounts.add(mount(VOLUME_PUSH_SECRET, DOCKER_CONFIG_DIR));
        pushArgs.add("--docker-config");
        pushArgs.add(DOCKER_CONFIG_DIR + "/config.json");
      }
      containers.add(
          new ContainerBuilder()
              .withName(PUSHER)
              .withImage(in.options().runtimeImage())
              .withCommand(RUNTIME_BINARY)
              .withArgs(pushArgs)
              .withTerminationMessagePolicy(FALLBACK_TO_LOGS)
              .withVolumeMounts(pushMounts)
              .build());
    }

    var template = podTemplate(in, init, containers, volumes);
    template.getSpec().setRestartPolicy("Never");
    template.getSpec().setShareProcessNamespace(containers.size() > 1 ? Boolean.TRUE : null);
    return new JobBuilder()
        .withMetadata(workloadMetadata(in))
        .withNewSpec()
        .withPodFailurePolicy(failFastOnErrors(init, containers))
        .withTemplate(template)
        .endSpec()
        .build();
  }

  private static final String FALLBACK_TO_LOGS = "FallbackToLogsOnError";

  /**
   * Disruptions are not failures; a reported error of {@code tune} or the pusher ends the Job, and
   * so does a usage error (exit 2) of an init container. A failed download or pull (exit 1) may be
   * the network's fault and is retried.
   */
  private static PodFailurePolicy failFastOnErrors(
      List<Container> initContainers, List<Container> containers) {
    PodFailurePolicyBuilder policy =
        new PodFailurePolicyBuilder()
            .addNewRule()
            .withAction("Ignore")
            .addNewOnPodCondition()
            .withType("DisruptionTarget")
            .withStatus("True")
            .endOnPodCondition()
            .endRule();
    containers.forEach(c -> failJobOn(policy, c, FATAL_EXIT_CODES));
    initContainers.forEach(c -> failJobOn(policy, c, List.of(USAGE_EXIT_CODE)));
    return policy.build();
  }

  private static void failJobOn(
      PodFailurePolicyBuilder policy, Container container, List<Integer> exitCodes) {
    policy
        .addNewRule()
        .withAction("FailJob")
        .withNewOnExitCodes()
        .withContainerName(container.getName())
        .withOperator("In")
        .withValues(exitCodes)
        .endOnExitCodes()
        .endRule();
  }
}
