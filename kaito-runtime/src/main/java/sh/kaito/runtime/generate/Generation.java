package sh.kaito.runtime.generate;

/**
 * The outcome of one generation.
 *
 * @param tokens the generated tokens (prompt excluded; a final EOS token included, as HF does)
 * @param stopString the stop string that ended it, or null
 */
public record Generation(long[] tokens, FinishReason finishReason, String stopString) {}
