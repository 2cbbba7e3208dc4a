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
import java.util.ArrayList;
import java.util.List;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.DataSource;
import sh.kaito.api.v1beta1.TuningSpec;

/**
 * The tuning Job (contract §2.6) with our runtime image only: init containers pull the weights and
 * the data, {@code tune} trains, the {@code pusher} sidecar pushes the adapter when training wrote
 * its completion marker.
 *
 * <p>No image reference is parsed here: the seed's placeholder output image ({@code
 * ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1}) is passed through as written, and the runtime
 * reports it when it tries to push.
 */
public final class TuningJobs {
  private TuningJobs() {}

  public static final String PUSHER = "pusher";
  public static final String COMPLETION_MARKER = RESULTS_DIR + "/fine_tuning_completed.txt";

  public static Job desired(WorkloadInputs in) {
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
    if (tuning.config() != null && !tuning.config().isEmpty()) {
      volumes.add(configMapVolume(VOLUME_CONFIG, tuning.config()));
    }

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
    tuneMounts.add(mount(VOLUME_RESULTS, RESULTS_DIR));
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
                RESULTS_DIR,
                "--gpus",
                String.valueOf(in.gpusPerNode()),
                "--port",
                String.valueOf(RUNTIME_PORT)));
    if (tuning.config() != null && !tuning.config().isEmpty()) {
      tuneMounts.add(mount(VOLUME_CONFIG, CONFIG_DIR));
      tuneArgs.add("--config");
      tuneArgs.add(CONFIG_DIR + "/" + TRAINING_CONFIG_KEY);
    }
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
            .withVolumeMounts(tuneMounts)
            .build());

    if (output != null && output.image() != null && !output.image().isEmpty()) {
      List<VolumeMount> pushMounts = new ArrayList<>(List.of(mount(VOLUME_RESULTS, RESULTS_DIR)));
      List<String> pushArgs =
          new ArrayList<>(
              List.of(
                  "push-adapter",
                  RESULTS_DIR,
                  output.image(),
                  "--preset",
                  in.presetName(),
                  "--wait-for",
                  COMPLETION_MARKER));
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
              .withVolumeMounts(pushMounts)
              .build());
    }

    var template = podTemplate(in, init, containers, volumes);
    template.getSpec().setRestartPolicy("Never");
    template.getSpec().setShareProcessNamespace(containers.size() > 1 ? Boolean.TRUE : null);
    return new JobBuilder()
        .withMetadata(workloadMetadata(in))
        .withNewSpec()
        .withTemplate(template)
        .endSpec()
        .build();
  }
}
