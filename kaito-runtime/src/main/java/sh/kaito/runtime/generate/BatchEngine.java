package sh.kaito.runtime.generate;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import sh.kaito.runtime.engine.CausalLM;

/**
 * Moves a set of sequences forward by one step with one {@link CausalLM#forward} call: every
 * decoding sequence runs its last token, and the sequences still reading their prompts run the next
 * pieces of them within a token budget (chunked prefill), so a long prompt never stalls the others
 * for more than a step. Each step's temporaries live in one NDManager, closed before it returns.
 * Not thread-safe: one thread drives all steps.
 */
public final class BatchEngine {

  private final CausalLM model;

  public BatchEngine(CausalLM model) {
    this.model = model;
  }

  public CausalLM model() {
    return model;
  }

  /** What one step did. */
  public record Step(int sequences, int tokens, int preempted) {}

  /**
   * One step over {@code sequences}, oldest first (they get the token budget first; the youngest
   * lose their caches first when memory runs out). Finished sequences are skipped.
   *
   * @param maxTokens the most prompt tokens this step runs, besides one per decoding sequence
   */
  public Step step(List<Sequence> sequences, int maxTokens) {
    List<CausalLM.Chunk> chunks = new ArrayList<>();
    List<Sequence> ran = new ArrayList<>();
    List<Integer> sizes = new ArrayList<>();
    int budget = maxTokens;
    int preempted = 0;
    for (int i = 0; i < sequences.size(); i++) {
      Sequence s = sequences.get(i);
      if (s.finished() || s.waitsForPrefill()) {
        continue;
      }
      int pending = s.pending();
      boolean decoding = pending == 1 && s.cache().length() > 0;
      int take = decoding ? 1 : Math.min(pending, budget);
      if (take <= 0) {
        continue;
      }
      boolean room = s.cache().reserve(s.cache().length() + take);
      for (int v = sequences.size() - 1; !room && v > i; v--) {
        Sequence victim = sequences.get(v);
        if (victim.cacheCapacity() > 0) {
          victim.preempt();
          preempted++;
          room = s.cache().reserve(s.cache().length() + take);
        }
      }
      if (!room) {
        continue; // waits for memory; runs again once others finish
      }
      chunks.add(new CausalLM.Chunk(s.next(take), s.cache(), s.adapters(), true));
      ran.add(s);
      sizes.add(take);
      if (!decoding) {
        budget -= take;
      }
    }
    if (chunks.isEmpty()) {
      return new Step(0, 0, preempted);
    }
    float[] logits;
    try (NDManager step = model.manager().newSubManager()) {
      logits = model.forward(step, chunks).toDevice(Device.cpu(), false).toFloatArray();
    }
    int vocab = model.config().vocabSize();
    int tokens = 0;
    for (int r = 0; r < ran.size(); r++) {
      Sequence s = ran.get(r);
      s.ran(sizes.get(r));
      tokens += sizes.get(r);
      if (s.pending() > 0) {
        continue; // part of a prompt: its logits are not read
      }
      float[] row = new float[vocab];
      System.arraycopy(logits, r * vocab, row, 0, vocab);
      // Sequences sharing this prompt take a copy of its cache and draw from the same logits.
      for (Sequence other : sequences) {
        if (other != s && other.prefillSource() == s && !other.finished()) {
          if (other.copyPrefill(s)) {
            other.accept(row.clone());
          }
        }
      }
      s.accept(row);
      if (s.finished()) {
        s.preempt(); // its memory is free for the others at once
      }
    }
    return new Step(ran.size(), tokens, preempted);
  }

  /** Runs one sequence to its end, a step at a time, the whole prompt in the first. */
  public Generation run(Sequence s) {
    while (!s.finished()) {
      if (step(List.of(s), Integer.MAX_VALUE).sequences() == 0) {
        throw new IllegalStateException("the KV-cache budget cannot hold this sequence");
      }
    }
    return s.result();
  }
}
