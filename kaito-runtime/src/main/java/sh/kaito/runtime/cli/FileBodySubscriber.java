package sh.kaito.runtime.cli;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.function.LongConsumer;

/**
 * Writes an HTTP body to an open file as it arrives, one buffer list at a time, and remembers when
 * the last bytes came, so the caller can give up on a silent server: a blocking read of the JDK
 * client's body stream cannot be interrupted, a subscription can be cancelled.
 */
final class FileBodySubscriber implements HttpResponse.BodySubscriber<Long> {

  private final FileChannel file;
  private final LongConsumer progress;
  private final CompletableFuture<Long> result = new CompletableFuture<>();
  private volatile Flow.Subscription subscription;
  private volatile long lastDataNanos = System.nanoTime();
  private volatile long bytes;

  FileBodySubscriber(FileChannel file, LongConsumer progress) {
    this.file = file;
    this.progress = progress;
  }

  @Override
  public void onSubscribe(Flow.Subscription s) {
    subscription = s;
    s.request(1);
  }

  @Override
  public void onNext(List<ByteBuffer> buffers) {
    try {
      long n = 0;
      for (ByteBuffer b : buffers) {
        while (b.hasRemaining()) {
          n += file.write(b);
        }
      }
      bytes += n;
      lastDataNanos = System.nanoTime();
      progress.accept(n);
      subscription.request(1);
    } catch (IOException e) {
      subscription.cancel();
      result.completeExceptionally(e);
    }
  }

  @Override
  public void onError(Throwable t) {
    result.completeExceptionally(t);
  }

  @Override
  public void onComplete() {
    result.complete(bytes);
  }

  @Override
  public CompletionStage<Long> getBody() {
    return result;
  }

  /** When bytes last arrived (or the subscriber was made), in {@link System#nanoTime()} terms. */
  long lastDataNanos() {
    return lastDataNanos;
  }

  /** Bytes written so far. */
  long bytes() {
    return bytes;
  }

  /** Stops the transfer; the body's future never completes. */
  void cancel() {
    Flow.Subscription s = subscription;
    if (s != null) {
      s.cancel();
    }
  }
}
