package sh.kaito.runtime.tuning.train;

/**
 * Where a training run stands after an optimizer step; field names as the controller reads them
 * ({@code GET /progress}).
 *
 * @param loss mean step loss since the previous report
 * @param learningRate the rate the last step used
 * @param tokensPerSecond input tokens (forward + backward + optimizer) per second in this process
 * @param etaSeconds remaining steps at this process's rate
 */
public record TrainingProgress(
    long step,
    long totalSteps,
    double epoch,
    double loss,
    double learningRate,
    double tokensPerSecond,
    long etaSeconds) {

  /** The line printed per logging step. */
  public String line() {
    return String.format(
        java.util.Locale.ROOT,
        "tune step=%d/%d epoch=%.2f loss=%.4f lr=%.3e tokens/s=%.1f eta=%s",
        step,
        totalSteps,
        epoch,
        loss,
        learningRate,
        tokensPerSecond,
        sh.kaito.presets.image.Progress.formatSeconds(etaSeconds));
  }

  /** The JSON {@code GET /progress} answers. */
  public String json() {
    // A non-finite loss (a diverged run) is left out: JSON has no NaN.
    String lossField =
        Double.isFinite(loss) ? String.format(java.util.Locale.ROOT, "\"loss\":%.6f,", loss) : "";
    return String.format(
        java.util.Locale.ROOT,
        "{\"step\":%d,\"total_steps\":%d,\"epoch\":%.4f,%s\"learning_rate\":%.6e,"
            + "\"tokens_per_second\":%.2f,\"eta_seconds\":%d}",
        step,
        totalSteps,
        epoch,
        lossField,
        learningRate,
        tokensPerSecond,
        etaSeconds);
  }
}
