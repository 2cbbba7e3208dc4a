package sh.kaito.runtime.lora;

import ai.djl.ndarray.NDArray;

/**
 * One low-rank update of one projection: {@code delta(x) = (dropout(x) A^T) B^T * scale}, as PEFT's
 * {@code lora_B(lora_A(lora_dropout(x))) * scaling}.
 *
 * @param a [rank, in]
 * @param b [out, rank]
 * @param scale alpha / r (or alpha / sqrt(r) for rsLoRA) times the adapter's strength
 * @param dropout the probability of zeroing an input element of this update (training only; 0 when
 *     serving)
 */
public record LoraDelta(NDArray a, NDArray b, float scale, float dropout) {

  /** An update without dropout, as served. */
  public LoraDelta(NDArray a, NDArray b, float scale) {
    this(a, b, scale, 0f);
  }
}
