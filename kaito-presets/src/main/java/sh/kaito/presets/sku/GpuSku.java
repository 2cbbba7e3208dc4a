package sh.kaito.presets.sku;

import sh.kaito.presets.catalog.ByteSize;

/**
 * A cloud instance type with GPUs (upstream {@code GPUConfig}).
 *
 * @param name the instance type, e.g. {@code Standard_NC6s_v3}
 * @param gpuCount GPUs per VM
 * @param gpuMemory total GPU memory of one VM (all GPUs together)
 * @param gpuModel e.g. {@code NVIDIA V100}
 * @param nvme whether the VM has local NVMe disks
 * @param computeCapability CUDA compute capability, 0 when not NVIDIA
 */
public record GpuSku(
    String name,
    int gpuCount,
    ByteSize gpuMemory,
    String gpuModel,
    boolean nvme,
    double computeCapability) {

  public GpuSku {
    if (gpuCount <= 0) {
      throw new IllegalArgumentException(name + ": gpuCount must be positive");
    }
  }

  /** Memory of one GPU: total / count. */
  public ByteSize perGpuMemory() {
    return gpuMemory.dividedBy(gpuCount);
  }
}
