package sh.kaito.runtime.server;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.runtime.generate.BatchEngine;
import sh.kaito.runtime.generate.FinishReason;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.Sequence;
import sh.kaito.runtime.lora.Adapters;

/**
 * The step scheduler (continuous batching). One thread runs the model a step at a time over every
 * running sequence ({@link GenerationEngine#step}: one forward pass for all of them, prompts in
 * pieces); between steps, waiting requests join the batch (up to {@code maxNumSeqs} sequences and
 * while the KV budget has room for their prompts), and finished, cancelled or timed-out ones leave.
 * A request's {@code n} sequences join together and share one run of the prompt.
 *
 * <p>Request threads wait in {@link #run}: tokens reach them through a queue, so a slow client
 * never holds up a step, and a client that went away (a failed write, or the disconnect probe) has
 * its sequences dropped before the next step. A request that fits into the batch at the next step
 * is always accepted; beyond that at most {@code queueCapacity} wait, one more gets 429.
 *
 * <p>{@link #drain} stops taking requests (503), lets the accepted ones finish within a grace
 * period, then stops the step thread: the model is never closed under a running step.
 */
final class GenerationQueue implements SchedulerState, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(GenerationQueue.class);

  /** How often a waiting request thread checks its client and the loop checks deadlines. */
  private static final long POLL_MILLIS = 50;

  /** One sequence to generate, as the engine takes it. */
  record Job(String model, long[] prompt, SamplingParams params, Adapters adapters) {}

  /** A finished sequence; {@code text} is cut before the first stop string. */
  record Completion(String text, long[] tokens, FinishReason finishReason, int promptTokens) {}

  /** Receives a streamed request's output; called on the request's thread, in order per choice. */
  interface StreamListener {
    /** Sequence {@code choice} starts (before its first token). */
    void start(int choice);

    /** Text of sequence {@code choice} that became final. */
    void delta(int choice, String text);

    /** Sequence {@code choice} ended; its deltas add up to {@code completion.text()}. */
    void end(int choice, Completion completion);
  }

  /**
   * What the scheduler reports, for metrics; called on the step thread, so it must not block. Every
   * method defaults to nothing.
   */
  interface Observer {
    /** A request joined the batch after {@code waitedNanos} in the queue. */
    default void admitted(String model, int sequences, long waitedNanos) {}

    /** The first token of a sequence, {@code nanos} after its request arrived (TTFT). */
    default void firstToken(String model, long nanos) {}

    /** A later token of a sequence, {@code nanos} after its previous one (inter-token latency). */
    default void nextToken(String model, long nanos) {}

    /** A sequence ended; {@code nanos} from its request's arrival (end-to-end latency). */
    default void finished(
        String model, int promptTokens, int completionTokens, FinishReason reason, long nanos) {}

    /** A step ran {@code tokens} tokens of {@code sequences} sequences in {@code nanos}. */
    default void step(int sequences, int tokens, int preempted, long nanos) {}
  }

  /** The streaming client went away; the generation was stopped. */
  static final class ClientGoneException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ClientGoneException(Throwable cause) {
      super("client disconnected", cause);
    }
  }

  /** The engine failed; the request gets a 500, the server keeps serving. */
  static class GenerationFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    GenerationFailedException(Throwable cause) {
      super("generation failed: " + cause, cause);
    }

    GenerationFailedException(String message) {
      super(message);
    }
  }

  /** The request ran past the request timeout; 504. */
  static final class TimedOutException extends GenerationFailedException {
    private static final long serialVersionUID = 1L;

    TimedOutException(Duration limit) {
      super("the request did not finish within the server's request timeout of " + limit);
    }
  }

  private sealed interface Event {}

  private record Token(int choice, long id) implements Event {}

  private record End(int choice, Generation generation) implements Event {}

  private record Failed(RuntimeException error) implements Event {}

  /** One request: its sequences, once admitted, and the events its thread reads. */
  private static final class Request {
    final ServedModel model;
    final List<Job> jobs;
    final long arrived = System.nanoTime();
    final long deadline;
    final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
    final CompletableFuture<Void> done = new CompletableFuture<>();
    volatile boolean cancelled;
    Sequence[] sequences; // step thread only
    long[] lastTokenAt; // step thread only
    int open;

    Request(ServedModel model, List<Job> jobs, long deadline) {
      this.model = model;
      this.jobs = jobs;
      this.deadline = deadline;
    }

    int promptTokens() {
      return jobs.stream().mapToInt(j -> j.prompt().length).sum();
    }
  }

  private final ServerConfig config;
  private final Observer observer;
  private final ServerMetrics metrics;
  private final Object lock = new Object();
  private final Deque<Request> waiting = new ArrayDeque<>();
  private final List<Request> running = new ArrayList<>(); // step thread, and counts under lock
  private int runningSequences;
  private boolean draining;
  private boolean stopped;
  private final Thread loop;

  GenerationQueue(ServerConfig config, ServerMetrics metrics) {
    this.config = config;
    this.observer = metrics;
    this.metrics = metrics;
    this.loop = new Thread(this::loop, "kaito-scheduler");
    loop.setDaemon(true);
    loop.start();
    metrics.queue(this);
  }

  int capacity() {
    return config.queueCapacity();
  }

  /** Requests accepted but not yet in the batch. */
  int waiting() {
    synchronized (lock) {
      return waiting.size();
    }
  }

  /** Requests with sequences in the batch. */
  int running() {
    synchronized (lock) {
      return running.size();
    }
  }

  /** Sequences in the batch. */
  int runningSequences() {
    synchronized (lock) {
      return runningSequences;
    }
  }

  /** Whether {@link #drain} has begun: no new requests are taken. */
  boolean draining() {
    synchronized (lock) {
      return draining;
    }
  }

  @Override
  public int runningRequests() {
    return running();
  }

  @Override
  public int waitingRequests() {
    return waiting();
  }

  @Override
  public double kvCacheUsage() {
    return kvUsage();
  }

  /** Whether the step thread still runs (false once {@link #drain} returned). */
  boolean stepThreadAlive() {
    return loop.isAlive();
  }

  /** The KV budget in use, 0..1, of the model being served (0 before any request). */
  double kvUsage() {
    synchronized (lock) {
      for (Request r : running) {
        return r.model.engine().budget().usage();
      }
    }
    return 0;
  }

  /** As {@link #run(ServedModel, List, StreamListener, BooleanSupplier)} without a probe. */
  List<Completion> run(ServedModel model, List<Job> jobs, StreamListener listener) {
    return run(model, jobs, listener, () -> false);
  }

  /**
   * Generates {@code jobs} (one request) in the batch and waits for them. The request is accepted
   * or refused as a whole.
   *
   * @param listener receives the output as it becomes final (null: not streaming); an exception it
   *     throws stops the generation and is rethrown as {@link ClientGoneException}
   * @param clientGone polled while waiting; true stops the generation (ClientGoneException)
   * @throws ApiException 429 when the queue is full, 503 while draining
   */
  List<Completion> run(
      ServedModel model, List<Job> jobs, StreamListener listener, BooleanSupplier clientGone) {
    long timeout = config.requestTimeout().toNanos();
    Request r =
        new Request(model, jobs, timeout == 0 ? Long.MAX_VALUE : System.nanoTime() + timeout);
    enqueue(r);
    try {
      return await(r, listener, clientGone);
    } catch (RuntimeException e) {
      r.cancelled = true;
      synchronized (lock) {
        lock.notifyAll();
      }
      throw e;
    }
  }

  private void enqueue(Request r) {
    synchronized (lock) {
      if (draining) {
        throw new ApiException(
            503,
            "service_unavailable",
            "The server is shutting down and takes no new requests; retry on another replica.",
            null,
            null);
      }
      int seats = r.jobs.size();
      for (Request w : waiting) {
        seats += w.jobs.size();
      }
      boolean joinsNextStep = runningSequences + seats <= config.maxNumSeqs();
      if (!joinsNextStep && waiting.size() >= config.queueCapacity()) {
        metrics.rejected();
        throw new ApiException(
            429,
            "requests",
            "Too many requests: "
                + runningSequences
                + " sequences generating (at most "
                + config.maxNumSeqs()
                + ") and "
                + waiting.size()
                + " requests waiting, the queue holds "
                + config.queueCapacity()
                + "; retry later.",
            null,
            "rate_limit_exceeded");
      }
      waiting.addLast(r);
      lock.notifyAll();
    }
  }

  private List<Completion> await(Request r, StreamListener listener, BooleanSupplier clientGone) {
    int n = r.jobs.size();
    Completion[] out = new Completion[n];
    IncrementalText[] texts = new IncrementalText[n];
    int ended = 0;
    long probed = System.nanoTime();
    while (ended < n) {
      Event e;
      try {
        e = r.events.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new ClientGoneException(ie);
      }
      long now = System.nanoTime();
      if (now - probed >= TimeUnit.MILLISECONDS.toNanos(POLL_MILLIS)) {
        probed = now;
        if (clientGone.getAsBoolean()) {
          throw new ClientGoneException(null);
        }
      }
      if (e == null) {
        continue;
      }
      if (e instanceof Failed f) {
        throw f.error();
      } else if (e instanceof Token t) {
        if (listener != null) {
          int c = t.choice();
          if (texts[c] == null) {
            texts[c] = new IncrementalText(ids -> decode(r.model, ids), stops(r, c));
            call(() -> listener.start(c));
          }
          String delta = texts[c].add(t.id());
          if (!delta.isEmpty()) {
            call(() -> listener.delta(c, delta));
          }
        }
      } else if (e instanceof End end) {
        int c = end.choice();
        Generation g = end.generation();
        Completion done =
            new Completion(
                IncrementalText.cut(decode(r.model, g.tokens()), stops(r, c)),
                g.tokens(),
                g.finishReason(),
                r.jobs.get(c).prompt().length);
        out[c] = done;
        ended++;
        if (listener != null) {
          if (texts[c] == null) {
            call(() -> listener.start(c));
          } else {
            String rest = texts[c].finish();
            if (!rest.isEmpty()) {
              call(() -> listener.delta(c, rest));
            }
          }
          call(() -> listener.end(c, done));
        }
      }
    }
    return Arrays.asList(out);
  }

  private static List<String> stops(Request r, int choice) {
    return r.jobs.get(choice).params().stopStrings();
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

  // ---- the step thread ----

  private void loop() {
    while (true) {
      synchronized (lock) {
        expireWaiting();
        admit();
        if (running.isEmpty()) {
          if (stopped) {
            return;
          }
          try {
            lock.wait(POLL_MILLIS);
          } catch (InterruptedException e) {
            return;
          }
          continue;
        }
      }
      try {
        runOnce();
      } catch (RuntimeException | Error e) {
        // A defect outside the engine's step: its requests fail, the scheduler goes on.
        LOG.error("scheduler iteration failed", e);
        for (Request r : new ArrayList<>(running)) {
          fail(r, new GenerationFailedException(e));
        }
      }
      synchronized (lock) {
        if (stopped) {
          for (Request r : new ArrayList<>(running)) {
            fail(r, shuttingDown());
          }
        }
      }
    }
  }

  /** Drops what left, then one step per engine over the running sequences. */
  private void runOnce() {
    reap();
    Map<GenerationEngine, List<Sequence>> batches = new IdentityHashMap<>();
    Map<GenerationEngine, List<Request>> owners = new IdentityHashMap<>();
    for (Request r : running) {
      GenerationEngine engine = r.model.engine();
      owners.computeIfAbsent(engine, k -> new ArrayList<>()).add(r);
      List<Sequence> batch = batches.computeIfAbsent(engine, k -> new ArrayList<>());
      for (Sequence s : r.sequences) {
        if (s != null) {
          batch.add(s);
        }
      }
    }
    for (var e : batches.entrySet()) {
      step(e.getKey(), e.getValue(), owners.get(e.getKey()));
    }
  }

  private static ApiException shuttingDown() {
    return new ApiException(
        503,
        "service_unavailable",
        "The server shut down before this request finished; retry on another replica.",
        null,
        null);
  }

  /** Moves waiting requests into the batch while sequences and KV memory allow; under lock. */
  private void admit() {
    while (!waiting.isEmpty()) {
      Request r = waiting.peekFirst();
      if (r.cancelled) {
        waiting.removeFirst();
        continue;
      }
      int n = r.jobs.size();
      // Room for the prompts, as vLLM admits: a request alone in the batch always joins.
      long needed = r.promptTokens();
      boolean fits =
          running.isEmpty()
              || (runningSequences + n <= config.maxNumSeqs()
                  && r.model.engine().budget().free() >= needed);
      if (!fits) {
        return;
      }
      waiting.removeFirst();
      try {
        open(r);
      } catch (RuntimeException e) {
        LOG.error("request could not start", e);
        for (Sequence s : r.sequences) {
          if (s != null) {
            s.close();
          }
        }
        r.events.add(new Failed(new GenerationFailedException(e)));
        continue;
      }
      running.add(r);
      runningSequences += n;
      observer.admitted(r.jobs.get(0).model(), n, System.nanoTime() - r.arrived);
    }
  }

  private void open(Request r) {
    int n = r.jobs.size();
    r.sequences = new Sequence[n];
    r.lastTokenAt = new long[n];
    r.open = n;
    for (int i = 0; i < n; i++) {
      Job job = r.jobs.get(i);
      int choice = i;
      Sequence s =
          r.model
              .engine()
              .open(
                  job.prompt(),
                  job.params(),
                  job.adapters(),
                  token -> {
                    long now = System.nanoTime();
                    if (r.lastTokenAt[choice] == 0) {
                      observer.firstToken(job.model(), now - r.arrived);
                    } else {
                      observer.nextToken(job.model(), now - r.lastTokenAt[choice]);
                    }
                    r.lastTokenAt[choice] = now;
                    r.events.add(new Token(choice, token));
                  });
      for (int j = 0; j < i; j++) {
        // The first earlier sequence with the same prompt runs it for both (n > 1, per prompt).
        if (Arrays.equals(job.prompt(), r.jobs.get(j).prompt())) {
          s.sharePrefillWith(r.sequences[j]);
          break;
        }
      }
      r.sequences[i] = s;
    }
  }

  private void expireWaiting() {
    long now = System.nanoTime();
    for (var it = waiting.iterator(); it.hasNext(); ) {
      Request r = it.next();
      if (r.cancelled) {
        it.remove();
      } else if (now - r.deadline > 0) {
        it.remove();
        r.events.add(new Failed(new TimedOutException(config.requestTimeout())));
      }
    }
  }

  /** Drops cancelled and timed-out requests before a step. */
  private void reap() {
    long now = System.nanoTime();
    for (Request r : new ArrayList<>(running)) {
      if (r.cancelled) {
        LOG.info("sequences dropped reason=client_gone sequences={}", r.open);
        fail(r, new ClientGoneException(null));
      } else if (now - r.deadline > 0) {
        LOG.info("sequences dropped reason=timeout sequences={}", r.open);
        fail(r, new TimedOutException(config.requestTimeout()));
      }
    }
  }

  private void step(GenerationEngine engine, List<Sequence> batch, List<Request> owners) {
    long start = System.nanoTime();
    BatchEngine.Step s;
    try {
      s = engine.step(batch, config.maxBatchTokens());
    } catch (RuntimeException | Error e) {
      LOG.error("step failed sequences={}", batch.size(), e);
      for (Request r : owners) {
        fail(r, new GenerationFailedException(e));
      }
      return;
    }
    observer.step(s.sequences(), s.tokens(), s.preempted(), System.nanoTime() - start);
    boolean progressed = s.sequences() > 0;
    for (Request r : owners) {
      List<End> ends = new ArrayList<>();
      for (int i = 0; i < r.sequences.length; i++) {
        Sequence seq = r.sequences[i];
        if (seq != null && seq.finished()) {
          Generation g = seq.result();
          observer.finished(
              r.jobs.get(i).model(),
              seq.promptLength(),
              g.tokens().length,
              g.finishReason(),
              System.nanoTime() - r.arrived);
          close(r, i);
          ends.add(new End(i, g));
          progressed = true;
        }
      }
      // The seat is given back before the client hears the end: a client that sends its next
      // request at once must not find its own finished request still counted (a spurious 429).
      if (r.open == 0) {
        remove(r);
      }
      ends.forEach(r.events::add);
    }
    if (!progressed && !owners.isEmpty()) {
      // Nothing could run: the sequences left need more KV memory than the whole budget.
      Request youngest = owners.get(owners.size() - 1);
      fail(
          youngest,
          new ApiException(
              503,
              "service_unavailable",
              "The KV-cache budget cannot hold this request next to the running ones; retry"
                  + " later.",
              null,
              null));
    }
  }

  private void close(Request r, int i) {
    r.sequences[i].close();
    r.sequences[i] = null;
    r.open--;
  }

  private void fail(Request r, RuntimeException error) {
    for (int i = 0; i < r.sequences.length; i++) {
      if (r.sequences[i] != null) {
        close(r, i);
      }
    }
    remove(r);
    r.events.add(new Failed(error));
  }

  private void remove(Request r) {
    synchronized (lock) {
      if (running.remove(r)) {
        runningSequences -= r.jobs.size();
      }
    }
  }

  /**
   * Stops taking requests (they get 503) and waits up to {@code grace} for the accepted ones to
   * finish; what is left then fails with 503. Returns when the step thread has ended.
   */
  void drain(Duration grace) {
    long until = System.nanoTime() + grace.toNanos();
    synchronized (lock) {
      draining = true;
      while ((!waiting.isEmpty() || !running.isEmpty()) && until - System.nanoTime() > 0) {
        try {
          lock.wait(POLL_MILLIS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      for (Request r : waiting) {
        r.events.add(new Failed(shuttingDown()));
      }
      waiting.clear();
      stopped = true;
      lock.notifyAll();
    }
    try {
      loop.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Drains with the configured grace period. */
  @Override
  public void close() {
    drain(config.drainGrace());
  }
}
