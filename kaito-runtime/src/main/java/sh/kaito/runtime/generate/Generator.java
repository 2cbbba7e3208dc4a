package sh.kaito.runtime.generate;

import java.util.function.Function;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.lora.Adapters;

/**
 * The generation loop for one sequence: prefill the prompt, then decode one token per step with a
 * KV cache, stream each token to a listener and end with a {@link FinishReason}. A batch of one on
 * {@link BatchEngine}, the same steps the server runs for many.
 */
public final class Generator {

  private final CausalLM model;
  private final BatchEngine engine;
  private final Function<long[], String> detokenizer;

  /**
   * @param detokenizer turns generated tokens into text; needed only for stop strings
   */
  public Generator(CausalLM model, Function<long[], String> detokenizer) {
    this.model = model;
    this.engine = new BatchEngine(model);
    this.detokenizer = detokenizer;
  }

  public Generation generate(
      long[] prompt, SamplingParams params, Adapters adapters, TokenListener listener) {
    try (Sequence s =
        new Sequence(prompt, params, adapters, listener, detokenizer, model.newCache())) {
      return engine.run(s);
    }
  }
}
