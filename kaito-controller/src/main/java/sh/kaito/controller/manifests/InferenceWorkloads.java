package sh.kaito.controller.manifests;

import static sh.kaito.controller.manifests.Manifests.*;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import java.util.ArrayList;
import java.util.List;
import sh.kaito.api.v1beta1.InferenceSpec;
import sh.kaito.api.v1beta1.PresetSpec;

/**
 * The inference StatefulSet (contract §2.8): one pod per node, {@code kaito-runtime serve} on port
 * 5000, weights and adapters pulled by init containers.
 */
public final class InferenceWorkloads {
  private InferenceWorkloads() {}

  /** Startup budget: 15 min + 18 s per GiB of weights, clamped to [30 min, 180 min] (upstream). */
  public static int startupFailureThreshold(long weightsBytes) {
    double gib = weightsBytes / (double) (1L << 30);
    long seconds = 15 * 60 + Math.round(18 * gib);
    seconds = Math.max(30 * 60, Math.min(180 * 60, seconds));
    return (int) Math.ceil(seconds / 10.0);
  }

  /**
   * The StatefulSet serving {@code in.presetName()} with {@code adapters}.
   *
   * @param weightsBytes the preset's weights size, for the startup probe budget
   */
  public static StatefulSet desired(
      WorkloadInputs in, List<ServedAdapter> adapters, long weightsBytes) {
    InferenceSpec inference = in.workspace().getInference();
    String config = inference == null ? null : inference.config();
    PresetSpec preset = inference == null ? null : inference.preset();

    List<Volume> volumes = new ArrayList<>();
    volumes.add(sharedMemory());
    volumes.add(emptyDir(VOLUME_WEIGHTS));
    List<VolumeMount> mounts = new ArrayList<>();
    mounts.add(mount(VOLUME_DSHM, "/dev/shm"));
    mounts.add(mount(VOLUME_WEIGHTS, WEIGHTS_DIR));
    List<Container> init = new ArrayList<>();
    init.add(weightsPuller(in));
    List<EnvVar> env = new ArrayList<>();

    boolean imageAdapters = adapters.stream().anyMatch(a -> a.image() != null);
    if (imageAdapters) {
      volumes.add(emptyDir(VOLUME_ADAPTERS));
      mounts.add(mount(VOLUME_ADAPTERS, ADAPTER_DIR));
    }
    for (ServedAdapter a : adapters) {
      String dir = ADAPTER_DIR + "/" + a.name();
      if (a.image() != null) {
        List<VolumeMount> pullMounts = new ArrayList<>();
        pullMounts.add(mount(VOLUME_ADAPTERS, dir, a.name()));
        String configDir = null;
        if (!a.pullSecrets().isEmpty()) {
          String secretsVolume = "docker-config-" + a.name() + "-inference-adapter";
          volumes.add(pullSecretsVolume(secretsVolume, a.pullSecrets()));
          configDir = DOCKER_CONFIG_DIR + "/config.d/" + a.name();
          pullMounts.add(mount(secretsVolume, configDir));
        }
        init.add(
            pullContainer(
                "puller-" + a.name(),
                a.image(),
                "/data",
                dir,
                in.options().runtimeImage(),
                pullMounts,
                configDir));
      } else {
        String volume = "adapter-volume-" + a.name();
        volumes.add(userVolume(volume, a.volume()));
        mounts.add(mount(volume, dir));
      }
      env.add(new EnvVar(a.name(), a.strength(), null));
    }

    List<String> args =
        new ArrayList<>(
            List.of(
                "serve",
                "--preset",
                in.presetName(),
                "--weights",
                WEIGHTS_DIR,
                "--port",
                String.valueOf(RUNTIME_PORT)));
    for (ServedAdapter a : adapters) {
      args.add("--adapter");
      args.add(a.name() + "=" + ADAPTER_DIR + "/" + a.name());
    }
    if (config != null && !config.isEmpty()) {
      volumes.add(configMapVolume(VOLUME_CONFIG, config));
      mounts.add(mount(VOLUME_CONFIG, CONFIG_DIR));
      args.add("--config");
      args.add(CONFIG_DIR + "/" + INFERENCE_CONFIG_KEY);
    }
    if (preset != null && preset.modelAccessSecret() != null) {
      env.add(
          new EnvVarBuilder()
              .withName("HF_TOKEN")
              .withNewValueFrom()
              .withNewSecretKeyRef("HF_TOKEN", preset.modelAccessSecret(), true)
              .endValueFrom()
              .build());
    }

    Container main =
        new ContainerBuilder()
            .withName(in.name())
            .withImage(in.options().runtimeImage())
            .withCommand(RUNTIME_BINARY)
            .withArgs(args)
            .withResources(gpuResources(in.gpusPerNode()))
            .withPorts(
                new ContainerPortBuilder().withName("http").withContainerPort(RUNTIME_PORT).build())
            .withEnv(env)
            .withVolumeMounts(mounts)
            .withStartupProbe(health(0, startupFailureThreshold(weightsBytes)))
            .withLivenessProbe(health(0, 3))
            .withReadinessProbe(health(30, 3))
            .build();

    return new StatefulSetBuilder()
        .withMetadata(workloadMetadata(in))
        .withNewSpec()
        .withReplicas(in.replicas())
        .withPodManagementPolicy("Parallel")
        .withServiceName(Services.headlessName(in.workspace()))
        .withNewSelector()
        .withMatchLabels(workspaceLabels(in.workspace()))
        .endSelector()
        .withTemplate(podTemplate(in, init, List.of(main), volumes))
        .endSpec()
        .build();
  }

  private static Probe health(int initialDelay, int failureThreshold) {
    return new ProbeBuilder()
        .withNewHttpGet()
        .withPath("/health")
        .withPort(new IntOrString(RUNTIME_PORT))
        .endHttpGet()
        .withInitialDelaySeconds(initialDelay == 0 ? null : initialDelay)
        .withPeriodSeconds(10)
        .withFailureThreshold(failureThreshold)
        .build();
  }
}
