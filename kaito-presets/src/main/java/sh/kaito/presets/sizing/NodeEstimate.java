package sh.kaito.presets.sizing;

/**
 * The node-count estimate for one replica, with the intermediate numbers for logs.
 *
 * @param nodes nodes one replica needs
 * @param minGpus GPUs the weights and reserves need
 * @param modelBytes weights × 1.02
 * @param perGpuBytes memory of one GPU
 * @param availablePerGpuBytes memory per GPU left for weights after reserves
 * @param maxModelLen the context length the KV cache was sized for
 */
public record NodeEstimate(
    int nodes,
    int minGpus,
    double modelBytes,
    double perGpuBytes,
    double availablePerGpuBytes,
    int maxModelLen) {}
