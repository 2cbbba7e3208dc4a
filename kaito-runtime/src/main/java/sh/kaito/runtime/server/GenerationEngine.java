package sh.kaito.runtime.server;

import java.util.List;
import sh.kaito.runtime.engine.KvBudget;
import sh.kaito.runtime.generate.BatchEngine;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.Sequence;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;

/**
 * What the server's scheduler needs from the engine: sequences whose caches draw on one KV budget,
 * and a step that moves a batch of them forward by one forward pass. In production it is {@link
 * BatchEngine} over the loaded model; tests wrap it to fail or stall a step.
 */
public interface GenerationEngine {

  /** A new sequence with an empty cache from {@link #budget()}; tokens go to {@code listener}. */
  Sequence open(long[] prompt, SamplingParams params, Adapters adapters, TokenListener listener);

  /** One batched step, as {@link BatchEngine#step}. */
  BatchEngine.Step step(List<Sequence> sequences, int maxTokens);

  /** The KV-cache memory all sequences share. */
  KvBudget budget();

  /** One sequence alone, to its end (tests, tools). */
  default Generation generate(
      long[] prompt, SamplingParams params, Adapters adapters, TokenListener listener) {
    try (Sequence s = open(prompt, params, adapters, listener)) {
      while (!s.finished()) {
        if (step(List.of(s), Integer.MAX_VALUE).sequences() == 0) {
          throw new IllegalStateException("the KV-cache budget cannot hold this sequence");
        }
      }
      return s.result();
    }
  }
}
