package sh.kaito.runtime.server;

/**
 * How the server listens and queues.
 *
 * @param host the address to bind ({@code 0.0.0.0} in a pod, {@code 127.0.0.1} in tests)
 * @param port the port (0: any free port)
 * @param queueCapacity requests that may wait while one generates; one more gets 429
 * @param maxRequestBytes a larger request body gets 413
 */
public record ServerConfig(String host, int port, int queueCapacity, long maxRequestBytes) {

  public static final int DEFAULT_QUEUE_CAPACITY = 16;
  public static final long DEFAULT_MAX_REQUEST_BYTES = 4L << 20;

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
  }

  public static ServerConfig of(String host, int port) {
    return new ServerConfig(host, port, DEFAULT_QUEUE_CAPACITY, DEFAULT_MAX_REQUEST_BYTES);
  }

  public ServerConfig withQueueCapacity(int capacity) {
    return new ServerConfig(host, port, capacity, maxRequestBytes);
  }
}
