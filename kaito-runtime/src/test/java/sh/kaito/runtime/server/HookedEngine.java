package sh.kaito.runtime.server;

import java.util.List;
import sh.kaito.runtime.engine.KvBudget;
import sh.kaito.runtime.generate.BatchEngine;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.Sequence;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;

/** The real engine with every step passed through a hook (to fail, stall, slow or count it). */
final class HookedEngine implements GenerationEngine {

  /** One step, given the real engine to run it with. */
  interface StepHook {
    BatchEngine.Step step(List<Sequence> sequences, int maxTokens, GenerationEngine real);
  }

  private final GenerationEngine real;
  private final StepHook hook;

  HookedEngine(GenerationEngine real, StepHook hook) {
    this.real = real;
    this.hook = hook;
  }

  @Override
  public Sequence open(
      long[] prompt, SamplingParams params, Adapters adapters, TokenListener listener) {
    return real.open(prompt, params, adapters, listener);
  }

  @Override
  public BatchEngine.Step step(List<Sequence> sequences, int maxTokens) {
    return hook.step(sequences, maxTokens, real);
  }

  @Override
  public KvBudget budget() {
    return real.budget();
  }
}
