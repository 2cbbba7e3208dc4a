package sh.kaito.presets.catalog;

import java.util.List;

/**
 * What a preset needs to be fine-tuned with LoRA or QLoRA.
 *
 * @param gpu upstream's tuning GPU requirements (not enforced by upstream's webhook)
 * @param targetModules LoRA {@code target_modules} the controller sets; empty means PEFT
 *     auto-detect
 */
public record TuningSupport(GpuRequirements gpu, List<String> targetModules) {
  public TuningSupport {
    gpu = gpu == null ? GpuRequirements.NONE : gpu;
    targetModules = targetModules == null ? List.of() : List.copyOf(targetModules);
  }
}
