package sh.kaito.provisioner.cloud;

/**
 * A NodeClaim that cannot be launched as asked. The reason (CamelCase) and message go into the
 * claim's {@code Launched=False} condition, where the Workspace controller shows them to the user.
 */
public final class LaunchException extends Exception {
  private static final long serialVersionUID = 1L;

  private final String reason;
  private final boolean retryable;

  public LaunchException(String reason, String message, boolean retryable) {
    super(message);
    this.reason = reason;
    this.retryable = retryable;
  }

  /** A failure that trying again cannot fix (the claim's spec is immutable). */
  public static LaunchException permanent(String reason, String message) {
    return new LaunchException(reason, message, false);
  }

  public String reason() {
    return reason;
  }

  /** Whether a later attempt may succeed (cloud capacity, quota) rather than never (bad spec). */
  public boolean retryable() {
    return retryable;
  }
}
