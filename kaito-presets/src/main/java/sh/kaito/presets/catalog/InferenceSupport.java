package sh.kaito.presets.catalog;

/** What a preset needs to serve: GPUs and runtime defaults. */
public record InferenceSupport(GpuRequirements gpu, InferenceDefaults defaults) {
  public InferenceSupport {
    gpu = gpu == null ? GpuRequirements.NONE : gpu;
  }
}
