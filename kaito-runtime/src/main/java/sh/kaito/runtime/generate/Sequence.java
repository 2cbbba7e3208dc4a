package sh.kaito.runtime.generate;

import java.util.Arrays;
import java.util.function.Function;
import sh.kaito.runtime.engine.KvCache;
import sh.kaito.runtime.lora.Adapters;

/**
 * One sequence being generated: its prompt and output so far, its sampler, adapters and KV cache,
 * and how it ended. {@link BatchEngine} moves it forward one step at a time, alone or in a batch
 * with others. Owns its cache; not thread-safe (one engine thread drives it).
 */
public final class Sequence implements AutoCloseable {

  private final long[] prompt;
  private final SamplingParams params;
  private final Adapters adapters;
  private final TokenListener listener;
  private final Function<long[], String> detokenizer;
  private final Sampler sampler;
  private final KvCache cache;
  private long[] history;
  private int length;
  private int generated;
  private int fed; // tokens of history whose keys and values are in the cache
  private Sequence prefillSource;
  private Generation result;
  private boolean closed;

  /**
   * @param cache an empty cache this sequence owns from now on
   * @param detokenizer turns generated tokens into text; needed only for stop strings
   */
  public Sequence(
      long[] prompt,
      SamplingParams params,
      Adapters adapters,
      TokenListener listener,
      Function<long[], String> detokenizer,
      KvCache cache) {
    if (prompt.length == 0) {
      cache.close();
      throw new IllegalArgumentException("the prompt has no tokens");
    }
    if (!params.stopStrings().isEmpty() && detokenizer == null) {
      cache.close();
      throw new IllegalArgumentException("stop strings need a tokenizer to decode the output");
    }
    this.prompt = prompt.clone();
    this.params = params;
    this.adapters = adapters;
    this.listener = listener;
    this.detokenizer = detokenizer;
    this.sampler = new Sampler(params);
    this.cache = cache;
    // Grows with the output, never sized by max_new_tokens up front (it may be the whole context).
    this.history = Arrays.copyOf(prompt, prompt.length + Math.min(params.maxNewTokens(), 64));
    this.length = prompt.length;
  }

  /**
   * Makes this sequence start from {@code source}'s prompt once the source has run it (a request
   * with n > 1 runs its prompt once): the cache is copied instead of running the prompt again, and
   * the first token is drawn from the same logits with this sequence's own sampler. Both must have
   * the same prompt.
   */
  public Sequence sharePrefillWith(Sequence source) {
    if (!Arrays.equals(prompt, source.prompt)) {
      throw new IllegalArgumentException("only sequences with the same prompt share its prefill");
    }
    this.prefillSource = source;
    return this;
  }

  /** Tokens to run before the next token can be drawn (the prompt, or the last token drawn). */
  int pending() {
    return length - fed;
  }

  /** Whether this sequence waits for another to run the prompt they share. */
  boolean waitsForPrefill() {
    if (prefillSource != null && (prefillSource.closed || prefillSource.finished())) {
      prefillSource = null; // gone before sharing: run the prompt itself
    }
    return prefillSource != null;
  }

  Sequence prefillSource() {
    return prefillSource;
  }

  /** The next {@code n} tokens to run; they count as in the cache after {@link #ran}. */
  long[] next(int n) {
    return Arrays.copyOfRange(history, fed, fed + n);
  }

  void ran(int n) {
    fed += n;
  }

  /** Takes the prompt's cache from {@code source} (which just ran it); false: no room for it. */
  boolean copyPrefill(Sequence source) {
    prefillSource = null;
    if (!cache.copyFrom(source.cache)) {
      return false;
    }
    fed = prompt.length;
    return true;
  }

  /** Drops the cache (to free memory for others); the sequence runs all its tokens again later. */
  void preempt() {
    cache.clear();
    fed = 0;
  }

  KvCache cache() {
    return cache;
  }

  Adapters adapters() {
    return adapters;
  }

  /** Draws the next token from {@code logits} (modified) and ends the sequence if it should. */
  void accept(float[] logits) {
    long next = sampler.next(logits, Arrays.copyOf(history, length), generated);
    if (length == history.length) {
      history = Arrays.copyOf(history, length + Math.max(64, length / 2));
    }
    history[length++] = next;
    generated++;
    listener.onToken(next);
    if (params.eosTokenIds().contains(next)) {
      finish(FinishReason.STOP, null);
    } else if (!params.stopStrings().isEmpty() && stopString() != null) {
      finish(FinishReason.STOP, stopString());
    } else if (generated >= params.maxNewTokens()) {
      finish(FinishReason.LENGTH, null);
    }
  }

  private String stopString() {
    String text = detokenizer.apply(Arrays.copyOfRange(history, prompt.length, length));
    for (String stop : params.stopStrings()) {
      if (text.contains(stop)) {
        return stop;
      }
    }
    return null;
  }

  private void finish(FinishReason reason, String stop) {
    result = new Generation(Arrays.copyOfRange(history, prompt.length, length), reason, stop);
  }

  public boolean finished() {
    return result != null;
  }

  /** How it ended; null while it runs. */
  public Generation result() {
    return result;
  }

  public int promptLength() {
    return prompt.length;
  }

  /** Tokens generated so far. */
  public int generated() {
    return generated;
  }

  /** Positions whose memory the cache holds. */
  public long cacheCapacity() {
    return cache.capacity();
  }

  /** Frees the cache; idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      cache.close();
    }
  }
}
