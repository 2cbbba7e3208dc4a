package sh.kaito.runtime.tuning.train;

import java.util.Set;

/**
 * The learning rate per optimizer step as transformers' {@code get_scheduler}: a linear warm-up
 * from 0, then linear decay to 0, half a cosine wave, or constant.
 */
public final class LearningRateSchedule {

  private static final Set<String> KNOWN =
      Set.of("linear", "cosine", "constant", "constant_with_warmup");

  private final String type;
  private final double peak;
  private final int warmup;
  private final int total;

  public LearningRateSchedule(
      String type, double peak, int warmupSteps, double warmupRatio, int total) {
    requireKnown(type);
    this.type = type;
    this.peak = peak;
    this.total = total;
    // TrainingArguments.get_warmup_steps
    this.warmup =
        type.equals("constant")
            ? 0
            : warmupSteps > 0 ? warmupSteps : (int) Math.ceil(total * warmupRatio);
  }

  static void requireKnown(String type) {
    if (!KNOWN.contains(type)) {
      throw new IllegalArgumentException(
          "lr_scheduler_type '" + type + "' is not supported (supported: " + KNOWN + ")");
    }
  }

  /** The rate for the optimizer step after {@code done} scheduler steps (the first step: 0). */
  public double rate(int done) {
    return peak * factor(done);
  }

  private double factor(int step) {
    if (type.equals("constant")) {
      return 1;
    }
    if (step < warmup) {
      return (double) step / Math.max(1, warmup);
    }
    double progress = (double) (step - warmup) / Math.max(1, total - warmup);
    return switch (type) {
      case "linear" -> Math.max(0, (double) (total - step) / Math.max(1, total - warmup));
      case "cosine" -> Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
      default -> 1; // constant_with_warmup
    };
  }
}
