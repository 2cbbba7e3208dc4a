package sh.kaito.controller.tuning;

import java.time.Duration;
import java.util.Objects;
import sh.kaito.controller.progress.TuningProgressSource;

/**
 * How the controller runs tuning workspaces.
 *
 * @param progress where a running tuning pod's progress is read ({@link
 *     TuningProgressSource#none()} turns polling off)
 * @param progressInterval how often each running tuning pod is asked
 * @param templateNamespace the operator's namespace, where the default training-config templates
 *     may be; null for none
 */
public record TuningOptions(
    TuningProgressSource progress, Duration progressInterval, String templateNamespace) {

  public static final Duration DEFAULT_PROGRESS_INTERVAL = Duration.ofSeconds(15);

  public TuningOptions {
    Objects.requireNonNull(progress, "progress");
    if (progressInterval == null || progressInterval.isNegative() || progressInterval.isZero()) {
      throw new IllegalArgumentException("progress interval must be positive");
    }
  }

  /** No progress polling, built-in default templates only. */
  public static TuningOptions defaults() {
    return new TuningOptions(TuningProgressSource.none(), DEFAULT_PROGRESS_INTERVAL, null);
  }
}
