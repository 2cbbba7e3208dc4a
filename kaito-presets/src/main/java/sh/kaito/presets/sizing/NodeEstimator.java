package sh.kaito.presets.sizing;

import java.util.Locale;
import sh.kaito.presets.catalog.ByteSize;
import sh.kaito.presets.catalog.ModelPreset;
import sh.kaito.presets.sku.GpuSku;

/**
 * Upstream's target node count estimator for vLLM inference
 * (pkg/workspace/estimator/nodesestimator/estimator.go): how many nodes of an instance type one
 * replica of a preset needs, from weight size, KV-cache bytes per token and GPU memory.
 */
public final class NodeEstimator {

  /** vLLM {@code --gpu-memory-utilization}. */
  public static final double GPU_MEMORY_UTILIZATION = 0.84;

  /** vLLM's loaded model is about 102% of the Hugging Face file size. */
  public static final double WEIGHT_EXPANSION_FACTOR = 1.02;

  /** CUDA context, activations and other fixed costs per GPU. */
  public static final double BASE_OVERHEAD_GIB = 2.3;

  /** Further overhead proportional to the weights each GPU holds. */
  public static final double OVERHEAD_WEIGHT_FACTOR = 0.05;

  /** Context length sized for when the inference config sets no {@code vllm.max-model-len}. */
  public static final int DEFAULT_MAX_MODEL_LEN = 2048;

  private NodeEstimator() {}

  /** Thrown when the estimate is impossible; the message is upstream's. */
  public static final class EstimateException extends Exception {
    public EstimateException(String message) {
      super(message);
    }
  }

  /**
   * @param maxModelLen the context size ({@code vllm.max-model-len}), or 0 for {@link
   *     #DEFAULT_MAX_MODEL_LEN}
   */
  public static NodeEstimate estimate(ModelPreset preset, GpuSku sku, int maxModelLen)
      throws EstimateException {
    int len = maxModelLen > 0 ? maxModelLen : DEFAULT_MAX_MODEL_LEN;
    double modelSize = preset.weights().bytes() * WEIGHT_EXPANSION_FACTOR;
    double gpuMemPerGpu = (double) (sku.gpuMemory().bytes() / sku.gpuCount());
    double availGpuMem = gpuMemPerGpu * GPU_MEMORY_UTILIZATION;
    double baseOverhead = BASE_OVERHEAD_GIB * ByteSize.GI;
    double kvCache =
        (double) ((long) len * preset.config().kvCacheBytesPerToken()) / sku.gpuCount();
    double fixedReserve = baseOverhead + kvCache;
    if (availGpuMem <= fixedReserve) {
      throw new EstimateException(
          String.format(
              Locale.ROOT,
              "GPU memory %.0f bytes is too small, needs at least %.1f GB overhead (base: %.1fGB +"
                  + " KV Cache: %.1f GB)",
              gpuMemPerGpu,
              fixedReserve / ByteSize.GI,
              BASE_OVERHEAD_GIB,
              kvCache / ByteSize.GI));
    }
    double availMemPerGpu = (availGpuMem - fixedReserve) / (1 + OVERHEAD_WEIGHT_FACTOR);
    int minGpus = (int) (modelSize / availMemPerGpu) + 1;
    int nodes = (minGpus + sku.gpuCount() - 1) / sku.gpuCount();
    if (nodes > 1 && !preset.distributedInference()) {
      throw new EstimateException(
          "models with disabled support distributed inference cannot be distributed across more"
              + " than 1 GPU node, please use a node with larger GPU memory, calculated nodes: "
              + nodes);
    }
    return new NodeEstimate(nodes, minGpus, modelSize, gpuMemPerGpu, availMemPerGpu, len);
  }
}
