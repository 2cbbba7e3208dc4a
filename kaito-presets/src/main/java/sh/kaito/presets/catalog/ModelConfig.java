package sh.kaito.presets.catalog;

/**
 * The numbers of a model's {@code config.json} that sizing needs.
 *
 * @param layers {@code num_hidden_layers}
 * @param hiddenSize {@code hidden_size}
 * @param attentionHeads {@code num_attention_heads}
 * @param kvHeads {@code num_key_value_heads} (equal to attentionHeads without grouped-query
 *     attention)
 * @param headDim {@code head_dim}, or hidden / heads
 * @param vocabSize {@code vocab_size}
 * @param contextLength {@code max_position_embeddings}, upstream's {@code ModelTokenLimit}
 */
public record ModelConfig(
    int layers,
    int hiddenSize,
    int attentionHeads,
    int kvHeads,
    int headDim,
    int vocabSize,
    int contextLength) {

  public ModelConfig {
    if (layers <= 0 || hiddenSize <= 0 || attentionHeads <= 0 || kvHeads <= 0 || headDim <= 0) {
      throw new IllegalArgumentException("model config numbers must be positive");
    }
    if (attentionHeads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "attentionHeads " + attentionHeads + " is not a multiple of kvHeads " + kvHeads);
    }
  }

  /**
   * KV-cache bytes per token in fp16, upstream's {@code BytesPerToken} (generator.go): 2 bytes ×
   * layers × 2 (K and V) × kvHeads × headDim.
   */
  public long kvCacheBytesPerToken() {
    return 2L * layers * 2L * kvHeads * headDim;
  }
}
