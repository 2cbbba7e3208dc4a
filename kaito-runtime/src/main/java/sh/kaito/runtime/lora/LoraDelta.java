package sh.kaito.runtime.lora;

import ai.djl.ndarray.NDArray;

/**
 * One low-rank update of one projection: {@code delta(x) = (x A^T) B^T * scale}.
 *
 * @param a [rank, in]
 * @param b [out, rank]
 * @param scale alpha / r (or alpha / sqrt(r) for rsLoRA) times the adapter's strength
 */
public record LoraDelta(NDArray a, NDArray b, float scale) {}
