package sh.kaito.runtime.generate;

import java.util.List;
import java.util.Set;

/**
 * How to pick tokens, with the meanings (and the neutral values) of HF {@code GenerationConfig}.
 *
 * @param doSample false for greedy decoding; the warpers then do not apply
 * @param temperature 1 = unchanged
 * @param topK 0 = off
 * @param topP 1 = off
 * @param typicalP 1 = off
 * @param repetitionPenalty 1 = off; applied to every token of prompt and output, as HF does
 * @param minNewTokens EOS is suppressed until this many tokens were generated
 * @param maxNewTokens generation ends with {@link FinishReason#LENGTH} after this many
 * @param stopStrings generation ends with {@link FinishReason#STOP} once the output text contains
 *     one
 * @param eosTokenIds tokens that end generation with {@link FinishReason#STOP}
 * @param seed seeds the sampler, so a request with a seed is reproducible
 */
public record SamplingParams(
    boolean doSample,
    double temperature,
    int topK,
    double topP,
    double typicalP,
    double repetitionPenalty,
    int minNewTokens,
    int maxNewTokens,
    List<String> stopStrings,
    Set<Long> eosTokenIds,
    long seed) {

  public SamplingParams {
    if (temperature <= 0 && doSample) {
      throw new IllegalArgumentException(
          "temperature must be > 0 when sampling, got " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
    }
    if (topP <= 0 || topP > 1) {
      throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }
    if (typicalP <= 0 || typicalP > 1) {
      throw new IllegalArgumentException("typical_p must be in (0, 1], got " + typicalP);
    }
    if (repetitionPenalty <= 0) {
      throw new IllegalArgumentException(
          "repetition_penalty must be > 0, got " + repetitionPenalty);
    }
    if (maxNewTokens < 1 || minNewTokens < 0 || minNewTokens > maxNewTokens) {
      throw new IllegalArgumentException(
          "need 0 <= min_new_tokens <= max_new_tokens and max_new_tokens >= 1, got "
              + minNewTokens
              + " and "
              + maxNewTokens);
    }
    stopStrings = List.copyOf(stopStrings);
    eosTokenIds = Set.copyOf(eosTokenIds);
  }

  /** Greedy decoding of up to {@code maxNewTokens}, stopping at the given EOS tokens. */
  public static SamplingParams greedy(int maxNewTokens, Set<Long> eosTokenIds) {
    return builder().maxNewTokens(maxNewTokens).eosTokenIds(eosTokenIds).build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.doSample = doSample;
    b.temperature = temperature;
    b.topK = topK;
    b.topP = topP;
    b.typicalP = typicalP;
    b.repetitionPenalty = repetitionPenalty;
    b.minNewTokens = minNewTokens;
    b.maxNewTokens = maxNewTokens;
    b.stopStrings = stopStrings;
    b.eosTokenIds = eosTokenIds;
    b.seed = seed;
    return b;
  }

  /** Starts from HF's defaults with sampling off; {@link #build()} validates. */
  public static final class Builder {
    private boolean doSample;
    private double temperature = 1;
    private int topK;
    private double topP = 1;
    private double typicalP = 1;
    private double repetitionPenalty = 1;
    private int minNewTokens;
    private int maxNewTokens = 256;
    private List<String> stopStrings = List.of();
    private Set<Long> eosTokenIds = Set.of();
    private long seed;

    private Builder() {}

    /** Turns sampling on with these warpers (top_k 0 and top_p 1 are off). */
    public Builder sample(double temperature, int topK, double topP, long seed) {
      this.doSample = true;
      this.temperature = temperature;
      this.topK = topK;
      this.topP = topP;
      this.seed = seed;
      return this;
    }

    public Builder typicalP(double typicalP) {
      this.typicalP = typicalP;
      return this;
    }

    public Builder repetitionPenalty(double penalty) {
      this.repetitionPenalty = penalty;
      return this;
    }

    public Builder minNewTokens(int min) {
      this.minNewTokens = min;
      return this;
    }

    public Builder maxNewTokens(int max) {
      this.maxNewTokens = max;
      return this;
    }

    public Builder stopStrings(List<String> stops) {
      this.stopStrings = stops;
      return this;
    }

    public Builder eosTokenIds(Set<Long> ids) {
      this.eosTokenIds = ids;
      return this;
    }

    public SamplingParams build() {
      return new SamplingParams(
          doSample,
          temperature,
          topK,
          topP,
          typicalP,
          repetitionPenalty,
          minNewTokens,
          maxNewTokens,
          stopStrings,
          eosTokenIds,
          seed);
    }
  }
}
