package sh.kaito.runtime.server;

import java.time.Duration;

/**
 * How the server listens and schedules.
 *
 * @param host the address to bind ({@code 0.0.0.0} in a pod, {@code 127.0.0.1} in tests)
 * @param port the port (0: any free port)
 * @param queueCapacity requests that may wait for a place in the running batch; one more gets 429
 * @param maxRequestBytes a larger request body gets 413
 * @param maxNumSeqs the most sequences in one batch (vLLM's {@code --max-num-seqs})
 * @param maxBatchTokens the most prompt tokens one step runs besides one per decoding sequence
 *     (vLLM's {@code --max-num-batched-tokens}); longer prompts are run in pieces
 * @param requestTimeout a request not finished by then ends with 504 (zero: no limit)
 * @param drainGrace on shutdown, how long running and waiting requests may take to finish
 */
public record ServerConfig(
    String host,
    int port,
    int queueCapacity,
    long maxRequestBytes,
    int maxNumSeqs,
    int maxBatchTokens,
    Duration requestTimeout,
    Duration drainGrace) {

  public static final int DEFAULT_QUEUE_CAPACITY = 16;
  public static final long DEFAULT_MAX_REQUEST_BYTES = 4L << 20;
  public static final int DEFAULT_MAX_NUM_SEQS = 32;
  public static final int DEFAULT_MAX_BATCH_TOKENS = 256;
  public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofMinutes(10);
  public static final Duration DEFAULT_DRAIN_GRACE = Duration.ofSeconds(30);

  public ServerConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
    }
    if (queueCapacity < 0) {
      throw new IllegalArgumentException("queue capacity must be >= 0, got " + queueCapacity);
    }
    if (maxRequestBytes < 1024) {
      throw new IllegalArgumentException("max request size must be >= 1024 bytes");
    }
    if (maxNumSeqs < 1) {
      throw new IllegalArgumentException("max sequences per batch must be >= 1, got " + maxNumSeqs);
    }
    if (maxBatchTokens < 1) {
      throw new IllegalArgumentException(
          "max batched tokens per step must be >= 1, got " + maxBatchTokens);
    }
    if (requestTimeout.isNegative() || drainGrace.isNegative()) {
      throw new IllegalArgumentException("timeouts must be >= 0");
    }
  }

  public static ServerConfig of(String host, int port) {
    return new ServerConfig(
        host,
        port,
        DEFAULT_QUEUE_CAPACITY,
        DEFAULT_MAX_REQUEST_BYTES,
        DEFAULT_MAX_NUM_SEQS,
        DEFAULT_MAX_BATCH_TOKENS,
        DEFAULT_REQUEST_TIMEOUT,
        DEFAULT_DRAIN_GRACE);
  }

  public ServerConfig withQueueCapacity(int capacity) {
    return new ServerConfig(
        host,
        port,
        capacity,
        maxRequestBytes,
        maxNumSeqs,
        maxBatchTokens,
        requestTimeout,
        drainGrace);
  }

  public ServerConfig withBatching(int seqs, int batchTokens) {
    return new ServerConfig(
        host, port, queueCapacity, maxRequestBytes, seqs, batchTokens, requestTimeout, drainGrace);
  }

  public ServerConfig withTimeouts(Duration request, Duration drain) {
    return new ServerConfig(
        host, port, queueCapacity, maxRequestBytes, maxNumSeqs, maxBatchTokens, request, drain);
  }
}
