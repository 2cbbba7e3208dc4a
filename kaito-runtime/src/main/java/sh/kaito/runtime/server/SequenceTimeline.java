package sh.kaito.runtime.server;

import sh.kaito.runtime.generate.FinishReason;

/**
 * One sequence's clock, as vLLM measures it: it starts when the request arrives; the scheduler
 * calls {@link #scheduled()} when the sequence enters the batch, {@link #token()} for each
 * generated token and {@link #finished} once at the end (or {@link #aborted()} when it never
 * finishes). All calls come from the one thread that steps the sequence. {@link ServerMetrics}
 * turns it into vLLM's histograms and counters.
 */
public final class SequenceTimeline {

  private final ServerMetrics.VllmMeters meters;
  private final long arrived;
  private long scheduled = -1;
  private long firstToken = -1;
  private long lastToken = -1;
  private int tokens;
  private boolean done;

  SequenceTimeline(ServerMetrics.VllmMeters meters, long arrivedNanos) {
    this.meters = meters;
    this.arrived = arrivedNanos;
  }

  /** The sequence entered the running batch (its prefill starts). */
  public void scheduled() {
    if (scheduled < 0) {
      scheduled = System.nanoTime();
      meters.queueTime.record(seconds(scheduled - arrived));
    }
  }

  /** The sequence produced one token. */
  public void token() {
    long now = System.nanoTime();
    tokens++;
    if (firstToken < 0) {
      scheduled();
      firstToken = now;
      meters.timeToFirstToken.record(seconds(now - arrived));
    } else {
      meters.interTokenLatency.record(seconds(now - lastToken));
    }
    lastToken = now;
  }

  /** The sequence ended normally after {@code promptTokens} in and its generated tokens out. */
  public void finished(int promptTokens, FinishReason reason) {
    if (done) {
      return;
    }
    done = true;
    long now = System.nanoTime();
    meters.e2eLatency.record(seconds(now - arrived));
    meters.promptTokens.increment(promptTokens);
    meters.generationTokens.increment(tokens);
    meters.requestPromptTokens.record(promptTokens);
    meters.requestGenerationTokens.record(tokens);
    meters.success(reason == FinishReason.LENGTH ? "length" : "stop").increment();
    if (tokens > 1) { // vLLM: the first token belongs to prefill
      meters.timePerOutputToken.record(seconds(lastToken - firstToken) / (tokens - 1));
    }
    if (scheduled >= 0) {
      meters.inferenceTime.record(seconds((lastToken < 0 ? now : lastToken) - scheduled));
    }
  }

  /** The sequence was stopped (client gone, engine failure); counted as vLLM's {@code abort}. */
  public void aborted() {
    if (!done) {
      done = true;
      meters.e2eLatency.record(seconds(System.nanoTime() - arrived));
      meters.generationTokens.increment(tokens);
      meters.success("abort").increment();
    }
  }

  int tokens() {
    return tokens;
  }

  private static double seconds(long nanos) {
    return nanos / 1e9;
  }
}
