package sh.kaito.runtime.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;
import sh.kaito.presets.image.Progress;

/**
 * Waits for a file to appear (the tuner's {@code fine_tuning_completed.txt}), checking every {@code
 * poll} and logging a line when it starts, every {@code logEvery} while it waits, and when the file
 * is there. A stat per poll is all it costs, so the poll can be short.
 */
final class MarkerWait {

  static final Duration DEFAULT_POLL = Duration.ofSeconds(2);
  static final Duration DEFAULT_LOG_EVERY = Duration.ofMinutes(1);

  private final Duration poll;
  private final Duration logEvery;
  private final Consumer<String> log;

  MarkerWait(Duration poll, Duration logEvery, Consumer<String> log) {
    this.poll = poll;
    this.logEvery = logEvery;
    this.log = log;
  }

  /**
   * Returns how long it waited, once {@code marker} exists.
   *
   * @throws CommandFailure when the tuner's failure marker ({@link TuneCommand#FAILED_MARKER},
   *     beside {@code marker}) appears instead: the tuner failed, so nothing is to be pushed and
   *     waiting on would keep the pod (and its GPU) forever
   */
  Duration await(Path marker) throws InterruptedException, CommandFailure {
    long start = System.nanoTime();
    Path failed = marker.resolveSibling(TuneCommand.FAILED_MARKER);
    checkFailed(failed);
    if (Files.exists(marker)) {
      log.accept("push-adapter marker=" + marker + " present waited=0s");
      return Duration.ZERO;
    }
    log.accept("push-adapter waiting for marker=" + marker);
    long nextLog = start + logEvery.toNanos();
    while (!Files.exists(marker)) {
      Thread.sleep(poll.toMillis());
      checkFailed(failed);
      long now = System.nanoTime();
      if (now >= nextLog) {
        nextLog = now + logEvery.toNanos();
        log.accept(
            "push-adapter still waiting for marker="
                + marker
                + " waited="
                + human(Duration.ofNanos(now - start)));
      }
    }
    Duration waited = Duration.ofNanos(System.nanoTime() - start);
    log.accept("push-adapter marker=" + marker + " present waited=" + human(waited));
    return waited;
  }

  private void checkFailed(Path failed) throws CommandFailure {
    if (!Files.exists(failed) || Files.exists(failed.resolveSibling(TuneCommand.MARKER))) {
      return;
    }
    String why;
    try {
      why = Files.readString(failed).strip();
    } catch (java.io.IOException e) {
      why = "(" + failed + " unreadable: " + e.getMessage() + ")";
    }
    log.accept("push-adapter found " + failed + ": tuning failed, nothing to push");
    throw new CommandFailure("tuning failed, no adapter pushed: " + why);
  }

  private static String human(Duration d) {
    return Progress.formatSeconds(d.toSeconds());
  }
}
