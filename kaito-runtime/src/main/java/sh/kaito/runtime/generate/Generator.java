package sh.kaito.runtime.generate;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.util.Arrays;
import java.util.function.Function;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.engine.KvCache;
import sh.kaito.runtime.lora.Adapters;

/**
 * The generation loop: prefill the prompt, then decode one token per step with a KV cache, stream
 * each token to a listener and end with a {@link FinishReason}. Every step runs in its own
 * NDManager, closed before the next.
 */
public final class Generator {

  private final CausalLM model;
  private final Function<long[], String> detokenizer;

  /**
   * @param detokenizer turns generated tokens into text; needed only for stop strings
   */
  public Generator(CausalLM model, Function<long[], String> detokenizer) {
    this.model = model;
    this.detokenizer = detokenizer;
  }

  public Generation generate(
      long[] prompt, SamplingParams params, Adapters adapters, TokenListener listener) {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("the prompt has no tokens");
    }
    if (!params.stopStrings().isEmpty() && detokenizer == null) {
      throw new IllegalArgumentException("stop strings need a tokenizer to decode the output");
    }
    Sampler sampler = new Sampler(params);
    long[] history = Arrays.copyOf(prompt, prompt.length + params.maxNewTokens());
    int length = prompt.length;
    int generated = 0;
    try (KvCache cache = model.newCache()) {
      long[] input = prompt;
      while (true) {
        float[] logits;
        try (NDManager step = model.manager().newSubManager()) {
          logits =
              model
                  .forward(step, input, cache, adapters, true)
                  .toDevice(Device.cpu(), false)
                  .toFloatArray();
        }
        long next = sampler.next(logits, Arrays.copyOf(history, length), generated);
        history[length++] = next;
        generated++;
        listener.onToken(next);
        if (params.eosTokenIds().contains(next)) {
          return done(history, prompt.length, length, FinishReason.STOP, null);
        }
        if (!params.stopStrings().isEmpty()) {
          String text = detokenizer.apply(Arrays.copyOfRange(history, prompt.length, length));
          for (String stop : params.stopStrings()) {
            if (text.contains(stop)) {
              return done(history, prompt.length, length, FinishReason.STOP, stop);
            }
          }
        }
        if (generated >= params.maxNewTokens()) {
          return done(history, prompt.length, length, FinishReason.LENGTH, null);
        }
        input = new long[] {next};
      }
    }
  }

  private static Generation done(
      long[] history, int promptLength, int length, FinishReason reason, String stop) {
    return new Generation(Arrays.copyOfRange(history, promptLength, length), reason, stop);
  }
}
