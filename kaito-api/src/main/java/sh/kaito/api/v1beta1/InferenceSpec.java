package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import java.util.List;

/**
 * {@code inference}: serve a model, either a catalog {@code preset} or the user's own pod {@code
 * template} (exactly one of the two).
 *
 * @param preset the model preset to serve
 * @param template a pod template run instead of a preset; kept as written, unknown fields included
 * @param config name of a ConfigMap in the workspace's namespace with key {@code
 *     inference_config.yaml}
 * @param adapters LoRA adapters served with the preset (at most 10)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record InferenceSpec(
    PresetSpec preset, PodTemplateSpec template, String config, List<AdapterSpec> adapters) {

  public static final int MAX_ADAPTERS = 10;

  /** The adapters, never null. */
  public List<AdapterSpec> adaptersOrEmpty() {
    return adapters == null ? List.of() : adapters;
  }

  public InferenceSpec withAdapters(List<AdapterSpec> newAdapters) {
    return new InferenceSpec(preset, template, config, newAdapters);
  }

  public InferenceSpec withConfig(String newConfig) {
    return new InferenceSpec(preset, template, newConfig, adapters);
  }
}
