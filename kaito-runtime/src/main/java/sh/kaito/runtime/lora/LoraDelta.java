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
 * @param rowScales null when the update applies to every input row with {@code scale}; else [rows,
 *     1], the factor of each row of a batch in place of {@code scale} (0 for the rows of sequences
 *     without this adapter)
 */
public record LoraDelta(NDArray a, NDArray b, float scale, float dropout, NDArray rowScales) {

  /** An update of every row. */
  public LoraDelta(NDArray a, NDArray b, float scale, float dropout) {
    this(a, b, scale, dropout, null);
  }

  /** An update of every row without dropout, as served. */
  public LoraDelta(NDArray a, NDArray b, float scale) {
    this(a, b, scale, 0f, null);
  }
}
