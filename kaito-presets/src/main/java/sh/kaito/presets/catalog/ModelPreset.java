package sh.kaito.presets.catalog;

import java.util.Optional;

/**
 * One model the operator can deploy by name.
 *
 * @param name the preset name users write in {@code inference.preset.name}
 * @param family the upstream model family (phi3, phi4, llama3, mistral, qwen, ...)
 * @param hfRepo the Hugging Face repository id, or null for generated test models
 * @param revision the pinned Hugging Face commit, or null
 * @param weightsSource where weights come from when not from {@code hfRepo} at {@code revision}
 * @param architecture the {@code architectures[0]} of config.json
 * @param config the config numbers sizing needs
 * @param weights total size of the weight files (upstream {@code TotalSafeTensorFileSize})
 * @param disk disk a node needs for the model (upstream {@code DiskStorageRequirement})
 * @param inference GPU requirements and runtime defaults for serving
 * @param tuning tuning requirements, or null when the preset cannot be fine-tuned
 * @param cpu true for our small presets that run on a CPU
 * @param deprecated true when the webhook refuses the name ("Model ... is deprecated ...")
 * @param downloadAtRuntime weights are downloaded from Hugging Face when the pod starts
 * @param downloadAuthRequired that download needs an {@code HF_TOKEN} ({@code modelAccessSecret})
 * @param distributedInference the model can be split across nodes
 */
public record ModelPreset(
    String name,
    String family,
    String hfRepo,
    String revision,
    String weightsSource,
    String architecture,
    ModelConfig config,
    ByteSize weights,
    ByteSize disk,
    InferenceSupport inference,
    TuningSupport tuning,
    boolean cpu,
    boolean deprecated,
    boolean downloadAtRuntime,
    boolean downloadAuthRequired,
    boolean distributedInference) {

  public ModelPreset {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("preset without a name");
    }
    if (config == null || weights == null || disk == null || inference == null) {
      throw new IllegalArgumentException(
          "preset " + name + " lacks config, weights, disk or inference");
    }
  }

  public boolean supportsTuning() {
    return tuning != null;
  }

  public Optional<TuningSupport> tuningSupport() {
    return Optional.ofNullable(tuning);
  }

  /** The Hugging Face URL of the pinned commit, as upstream's supported_models.yaml writes it. */
  public Optional<String> versionUrl() {
    if (hfRepo == null || revision == null) {
      return Optional.empty();
    }
    return Optional.of("https://huggingface.co/" + hfRepo + "/commit/" + revision);
  }
}
