package sh.kaito.presets.catalog;

/**
 * Upstream's classic GPU requirements ({@code GPUCountRequirement}, {@code
 * PerGPUMemoryRequirement}, {@code TotalGPUMemoryRequirement}). A count of 0 means the preset runs
 * on a CPU.
 */
public record GpuRequirements(int count, ByteSize perGpuMemory, ByteSize totalMemory) {

  public static final GpuRequirements NONE = new GpuRequirements(0, ByteSize.ZERO, ByteSize.ZERO);

  public GpuRequirements {
    if (count < 0) {
      throw new IllegalArgumentException("negative GPU count");
    }
    perGpuMemory = perGpuMemory == null ? ByteSize.ZERO : perGpuMemory;
    totalMemory = totalMemory == null ? ByteSize.ZERO : totalMemory;
  }

  public boolean needsGpu() {
    return count > 0;
  }
}
