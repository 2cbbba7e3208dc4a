package sh.kaito.controller;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Operator configuration: where images come from and how nodes are provisioned. Read once at start
 * ({@link #fromEnv(Map)}); desired-object functions take it as a parameter, never a global.
 *
 * @param presetRegistry registry that holds the preset weights images, e.g. {@code
 *     mcr.microsoft.com/aks/kaito}; a preset's weights image is {@code
 *     <presetRegistry>/kaito-<preset>:<weightsTag>}
 * @param weightsTag tag of the preset weights images
 * @param runtimeImage the one image every Kaito pod runs ({@code kaito-runtime}), with its version
 * @param nodeProvisioner {@code nodeclaim} (Kaito creates NodeClaims) or {@code byo} (users bring
 *     labelled GPU nodes)
 * @param nodeImageFamily default {@code kaito.sh/node-image-family} written on NodeClaims
 * @param requeueAfter how soon a workspace waiting on something not watched is looked at again
 * @param workers reconcile threads
 * @param imagePullSecrets Secrets (kubernetes.io/dockerconfigjson, in each workspace's namespace)
 *     for the operator's own images: every pod Kaito writes names them in {@code imagePullSecrets},
 *     and the weights puller reads them, so presets and the runtime can come from a registry with a
 *     password
 * @param insecureRegistries {@code host:port} registries that the runtime in Kaito's pods reaches
 *     over plain HTTP (passed as {@code KAITO_INSECURE_REGISTRIES}); empty: HTTPS everywhere but
 *     loopback
 */
public record ControllerOptions(
    String presetRegistry,
    String weightsTag,
    String runtimeImage,
    String nodeProvisioner,
    String nodeImageFamily,
    Duration requeueAfter,
    int workers,
    java.util.List<String> imagePullSecrets,
    java.util.List<String> insecureRegistries) {

  public static final String PROVISIONER_NODECLAIM = "nodeclaim";
  public static final String PROVISIONER_BYO = "byo";

  public ControllerOptions {
    Objects.requireNonNull(presetRegistry, "presetRegistry");
    imagePullSecrets = java.util.List.copyOf(imagePullSecrets);
    insecureRegistries = java.util.List.copyOf(insecureRegistries);
    Objects.requireNonNull(weightsTag, "weightsTag");
    Objects.requireNonNull(runtimeImage, "runtimeImage");
    if (!PROVISIONER_NODECLAIM.equals(nodeProvisioner)
        && !PROVISIONER_BYO.equals(nodeProvisioner)) {
      throw new IllegalArgumentException(
          "node provisioner must be nodeclaim or byo, not " + nodeProvisioner);
    }
    if (workers < 1) {
      throw new IllegalArgumentException("workers must be at least 1");
    }
  }

  public static ControllerOptions defaults() {
    return new ControllerOptions(
        "mcr.microsoft.com/aks/kaito",
        "0.1.0",
        "mcr.microsoft.com/aks/kaito/kaito-runtime:0.1.0",
        PROVISIONER_NODECLAIM,
        "ubuntu",
        Duration.ofSeconds(2),
        8,
        java.util.List.of(),
        java.util.List.of());
  }

  /**
   * Reads {@code KAITO_PRESET_REGISTRY}, {@code KAITO_WEIGHTS_TAG}, {@code KAITO_RUNTIME_IMAGE},
   * {@code KAITO_NODE_PROVISIONER}, {@code KAITO_NODE_IMAGE_FAMILY}, {@code KAITO_WORKERS}, {@code
   * KAITO_IMAGE_PULL_SECRETS} and {@code KAITO_INSECURE_REGISTRIES} (comma-separated); unset ones
   * keep {@link #defaults()}.
   */
  public static ControllerOptions fromEnv(Map<String, String> env) {
    ControllerOptions d = defaults();
    String registry = env.getOrDefault("KAITO_PRESET_REGISTRY", d.presetRegistry());
    String tag = env.getOrDefault("KAITO_WEIGHTS_TAG", d.weightsTag());
    return new ControllerOptions(
        registry,
        tag,
        env.getOrDefault("KAITO_RUNTIME_IMAGE", registry + "/kaito-runtime:" + tag),
        env.getOrDefault("KAITO_NODE_PROVISIONER", d.nodeProvisioner()),
        env.getOrDefault("KAITO_NODE_IMAGE_FAMILY", d.nodeImageFamily()),
        d.requeueAfter(),
        Integer.parseInt(env.getOrDefault("KAITO_WORKERS", String.valueOf(d.workers()))),
        list(env.get("KAITO_IMAGE_PULL_SECRETS")),
        list(env.get("KAITO_INSECURE_REGISTRIES")));
  }

  private static java.util.List<String> list(String commaSeparated) {
    if (commaSeparated == null) {
      return java.util.List.of();
    }
    return java.util.Arrays.stream(commaSeparated.split(","))
        .map(String::strip)
        .filter(e -> !e.isEmpty())
        .toList();
  }

  public boolean nodeAutoProvisioning() {
    return PROVISIONER_NODECLAIM.equals(nodeProvisioner);
  }

  /** The OCI image holding a preset's weights under {@code /workspace/weights}. */
  public String weightsImage(String presetName) {
    return presetRegistry + "/kaito-" + presetName + ":" + weightsTag;
  }

  public ControllerOptions withNodeProvisioner(String provisioner) {
    return new ControllerOptions(
        presetRegistry,
        weightsTag,
        runtimeImage,
        provisioner,
        nodeImageFamily,
        requeueAfter,
        workers,
        imagePullSecrets,
        insecureRegistries);
  }

  public ControllerOptions withWorkers(int n) {
    return new ControllerOptions(
        presetRegistry,
        weightsTag,
        runtimeImage,
        nodeProvisioner,
        nodeImageFamily,
        requeueAfter,
        n,
        imagePullSecrets,
        insecureRegistries);
  }
}
