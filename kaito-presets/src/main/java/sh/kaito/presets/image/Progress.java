package sh.kaito.presets.image;

import java.time.Duration;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Progress lines for long transfers: at most one every {@code interval}, plus a final one, each
 * with percent, MB/s and ETA, e.g. {@code push 127.0.0.1:5000/m:1 42% 430.1/1024.0 MB 31.2 MB/s ETA
 * 19s}. Thread-safe.
 */
public final class Progress {

  /** Where lines go; {@link #NONE} drops them. */
  public static final Consumer<String> NONE = line -> {};

  private final String task;
  private final long totalBytes;
  private final Consumer<String> sink;
  private final LongSupplier nanoClock;
  private final long intervalNanos;
  private final long startNanos;
  private long lastPrintNanos;
  private long done;
  private boolean finished;

  public Progress(String task, long totalBytes, Consumer<String> sink, Duration interval) {
    this(task, totalBytes, sink, interval, System::nanoTime);
  }

  Progress(
      String task,
      long totalBytes,
      Consumer<String> sink,
      Duration interval,
      LongSupplier nanoClock) {
    this.task = task;
    this.totalBytes = Math.max(totalBytes, 0);
    this.sink = sink;
    this.nanoClock = nanoClock;
    this.intervalNanos = interval.toNanos();
    this.startNanos = nanoClock.getAsLong();
    this.lastPrintNanos = startNanos;
  }

  /** Adds transferred bytes; prints a line when the interval has passed. */
  public synchronized void advance(long bytes) {
    setDone(done + bytes);
  }

  /** Sets the bytes done so far (for sources that report a fraction or a total). */
  public synchronized void setDone(long bytes) {
    done = Math.min(Math.max(bytes, done), totalBytes == 0 ? bytes : totalBytes);
    long now = nanoClock.getAsLong();
    if (!finished && now - lastPrintNanos >= intervalNanos) {
      lastPrintNanos = now;
      sink.accept(line(now));
    }
  }

  /** Prints the final line once: 100%, the average rate and the elapsed time. */
  public synchronized void finish() {
    if (finished) {
      return;
    }
    finished = true;
    done = totalBytes;
    long now = nanoClock.getAsLong();
    double seconds = Math.max((now - startNanos) / 1e9, 1e-9);
    sink.accept(
        String.format(
            Locale.ROOT,
            "%s 100%% %.1f MB in %.1fs (%.1f MB/s)",
            task,
            totalBytes / 1e6,
            seconds,
            totalBytes / 1e6 / seconds));
  }

  /** Elapsed seconds since this meter started. */
  public double elapsedSeconds() {
    return (nanoClock.getAsLong() - startNanos) / 1e9;
  }

  String line(long now) {
    double seconds = Math.max((now - startNanos) / 1e9, 1e-9);
    double rate = done / 1e6 / seconds;
    int percent = totalBytes == 0 ? 100 : (int) (done * 100 / totalBytes);
    String eta =
        rate <= 0 || done == 0
            ? "?"
            : formatSeconds((long) Math.ceil((totalBytes - done) / 1e6 / rate));
    return String.format(
        Locale.ROOT,
        "%s %d%% %.1f/%.1f MB %.1f MB/s ETA %s",
        task,
        percent,
        done / 1e6,
        totalBytes / 1e6,
        rate,
        eta);
  }

  /** {@code 42s}, {@code 3m05s}, {@code 2h07m}. */
  public static String formatSeconds(long s) {
    return s >= 3600
        ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60)
        : s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
  }
}
