package sh.kaito.runtime.server;

import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;

/**
 * What the server needs from the engine: one generation, streaming tokens to a listener. In
 * production it is {@link sh.kaito.runtime.generate.Generator#generate}; an exception thrown by the
 * listener aborts the generation (how a disconnected streaming client stops it).
 */
@FunctionalInterface
public interface GenerationEngine {
  Generation generate(
      long[] prompt, SamplingParams params, Adapters adapters, TokenListener listener);
}
