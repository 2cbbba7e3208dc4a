package sh.kaito.runtime.server;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import sh.kaito.runtime.generate.SamplingParams;

/**
 * A request's sampling options, already type- and range-checked, before the number of tokens to
 * generate is known (that needs the prompt's length). {@code seed} null draws a random one.
 */
record SamplingRequest(
    boolean doSample,
    double temperature,
    int topK,
    double topP,
    double typicalP,
    double repetitionPenalty,
    int minNewTokens,
    String minNewTokensParam,
    List<String> stops,
    Set<Long> eosTokenIds,
    Long seed) {

  SamplingRequest withMinNewTokens(int min) {
    return new SamplingRequest(
        doSample,
        temperature,
        topK,
        topP,
        typicalP,
        repetitionPenalty,
        min,
        minNewTokensParam,
        stops,
        eosTokenIds,
        seed);
  }

  /**
   * The engine's parameters for one sequence.
   *
   * @param choice the sequence's index; added to the seed so that n choices differ reproducibly
   */
  SamplingParams build(int maxNewTokens, int choice) {
    if (minNewTokens > maxNewTokens) {
      throw ApiException.badRequest(
          "'"
              + minNewTokensParam
              + "' ("
              + minNewTokens
              + ") must not exceed the number of tokens to generate ("
              + maxNewTokens
              + ")",
          minNewTokensParam);
    }
    long s = seed == null ? ThreadLocalRandom.current().nextLong() : seed + choice;
    try {
      return new SamplingParams(
          doSample,
          doSample ? temperature : 1,
          topK,
          topP,
          typicalP,
          repetitionPenalty,
          minNewTokens,
          maxNewTokens,
          stops,
          eosTokenIds,
          s);
    } catch (IllegalArgumentException e) {
      // Every field was checked when parsed; this only guards a combination missed there.
      throw ApiException.badRequest(e.getMessage(), null);
    }
  }
}
