package sh.kaito.runtime.tuning.config;

/**
 * A {@code training_config.yaml} key or value that kaito-runtime cannot honour, or that upstream's
 * parser would reject. The message names the section and key ({@code LoraConfig.r: ...}) and is
 * meant to be shown to the user as it is.
 */
public final class TrainingConfigException extends IllegalArgumentException {
  public TrainingConfigException(String message) {
    super(message);
  }

  public TrainingConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
