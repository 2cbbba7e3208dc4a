package sh.kaito.runtime.server;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.lora.Adapters;

/**
 * Runs generations one at a time on a single worker thread, with at most {@code capacity} requests
 * waiting; one more is refused with 429 right away. The engine runs one sequence per forward pass
 * and a single generation already keeps libtorch's intra-op threads busy, so running two at once
 * would only make both slower and double the KV-cache memory.
 */
final class GenerationQueue implements SchedulerState, AutoCloseable {

  /** One sequence to generate, as the engine takes it. */
  record Job(String model, long[] prompt, SamplingParams params, Adapters adapters) {}

  /** A finished sequence; {@code text} is cut before the first stop string. */
  record Completion(
      String text,
      long[] tokens,
      sh.kaito.runtime.generate.FinishReason finishReason,
      int promptTokens) {}

  /** Receives a streamed request's output; called on the worker thread, in order. */
  interface StreamListener {
    /** Sequence {@code choice} starts (before its first token). */
    void start(int choice);

    /** Text of sequence {@code choice} that became final. */
    void delta(int choice, String text);

    /** Sequence {@code choice} ended; its deltas add up to {@code completion.text()}. */
    void end(int choice, Completion completion);
  }

  /** The streaming client went away; the generation was stopped. */
  static final class ClientGoneException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ClientGoneException(Throwable cause) {
      super("client disconnected", cause);
    }
  }

  /** The engine failed; the request gets a 500, the server keeps serving. */
  static final class GenerationFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    GenerationFailedException(Throwable cause) {
      super("generation failed: " + cause, cause);
    }
  }

  private final int capacity;
  private final ThreadPoolExecutor worker;
  private final ServerMetrics metrics;
  private final AtomicInteger running = new AtomicInteger();
  private volatile double kvCacheUsage;

  GenerationQueue(int capacity, ServerMetrics metrics) {
    if (capacity < 0) {
      throw new IllegalArgumentException("queue capacity must be >= 0, got " + capacity);
    }
    this.capacity = capacity;
    this.metrics = metrics;
    BlockingQueue<Runnable> queue =
        capacity == 0 ? new SynchronousQueue<>() : new ArrayBlockingQueue<>(capacity);
    this.worker =
        new ThreadPoolExecutor(
            1,
            1,
            0,
            TimeUnit.SECONDS,
            queue,
            r -> {
              Thread t = new Thread(r, "kaito-generation");
              t.setDaemon(true);
              return t;
            });
    metrics.queue(this);
  }

  int capacity() {
    return capacity;
  }

  int waiting() {
    return worker.getQueue().size();
  }

  int running() {
    return running.get();
  }

  @Override
  public int runningRequests() {
    return running();
  }

  @Override
  public int waitingRequests() {
    return waiting();
  }

  /** The running sequence's length over the model's context: batch 1 holds one sequence's cache. */
  @Override
  public double kvCacheUsage() {
    return kvCacheUsage;
  }

  /**
   * Generates {@code jobs} one after the other on the worker and waits for them. They hold one
   * place in the queue, so a request with {@code n} choices is accepted or refused as a whole.
   *
   * @param listener receives the output as it becomes final (null: not streaming); an exception it
   *     throws stops the generation and is rethrown as {@link ClientGoneException}
   * @throws ApiException 429 when the queue is full
   */
  List<Completion> run(ServedModel model, List<Job> jobs, StreamListener listener) {
    Future<List<Completion>> future;
    long arrived = System.nanoTime();
    try {
      future = worker.submit(() -> generateAll(model, jobs, listener, arrived));
    } catch (RejectedExecutionException e) {
      metrics.rejected();
      throw new ApiException(
          429,
          "requests",
          "Too many requests: "
              + waiting()
              + " waiting and 1 generating, the queue holds "
              + capacity
              + "; retry later.",
          null,
          "rate_limit_exceeded");
    }
    try {
      return future.get();
    } catch (InterruptedException e) {
      future.cancel(false);
      Thread.currentThread().interrupt();
      throw new GenerationFailedException(e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ClientGoneException gone) {
        throw gone;
      }
      throw new GenerationFailedException(cause);
    }
  }

  private List<Completion> generateAll(
      ServedModel model, List<Job> jobs, StreamListener listener, long arrived) {
    running.incrementAndGet();
    List<SequenceTimeline> timelines = new ArrayList<>();
    for (int i = 0; i < jobs.size(); i++) {
      timelines.add(metrics.sequence(model.name(), model.contextLength(), arrived));
    }
    try {
      List<Completion> out = new ArrayList<>();
      for (int i = 0; i < jobs.size(); i++) {
        out.add(generate(model, jobs.get(i), i, listener, timelines.get(i)));
      }
      return out;
    } finally {
      timelines.forEach(SequenceTimeline::aborted); // no-op for the finished ones
      kvCacheUsage = 0;
      running.decrementAndGet();
    }
  }

  private Completion generate(
      ServedModel model, Job job, int choice, StreamListener listener, SequenceTimeline timeline) {
    long start = System.nanoTime();
    timeline.scheduled();
    double context = model.contextLength();
    var stops = job.params().stopStrings();
    IncrementalText stream = null;
    if (listener != null) {
      stream = new IncrementalText(ids -> decode(model, ids), stops);
      call(() -> listener.start(choice));
    }
    IncrementalText text = stream;
    Generation g =
        model
            .engine()
            .generate(
                job.prompt(),
                job.params(),
                job.adapters(),
                token -> {
                  timeline.token();
                  kvCacheUsage = (job.prompt().length + timeline.tokens()) / context;
                  if (text != null) {
                    String delta = text.add(token);
                    if (!delta.isEmpty()) {
                      call(() -> listener.delta(choice, delta));
                    }
                  }
                });
    Completion done =
        new Completion(
            IncrementalText.cut(decode(model, g.tokens()), stops),
            g.tokens(),
            g.finishReason(),
            job.prompt().length);
    metrics.generated(
        job.model(), job.prompt().length, g.tokens().length, System.nanoTime() - start);
    timeline.finished(job.prompt().length, g.finishReason());
    if (text != null) {
      String rest = text.finish();
      if (!rest.isEmpty()) {
        call(() -> listener.delta(choice, rest));
      }
      call(() -> listener.end(choice, done));
    }
    return done;
  }

  private static String decode(ServedModel model, long[] ids) {
    return model.tokenizer().decode(ids, true);
  }

  private static void call(Runnable write) {
    try {
      write.run();
    } catch (RuntimeException e) {
      throw new ClientGoneException(e);
    }
  }

  /** Refuses new work and waits up to 30 s for the running generation to end. */
  @Override
  public void close() {
    for (Runnable waiting : worker.shutdownNow()) {
      if (waiting instanceof Future<?> f) {
        f.cancel(false); // its request thread stops waiting
      }
    }
    try {
      worker.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
