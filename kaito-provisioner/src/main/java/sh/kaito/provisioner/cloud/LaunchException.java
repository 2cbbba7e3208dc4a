package sh.kaito.provisioner.cloud;

/**
 * A NodeClaim that cannot be launched as asked. The reason (CamelCase) and message go into the
 * claim's {@code Launched=False} condition, where the Workspace controller shows them to the user.
 */
public final class LaunchException extends Exception {
  private static final long serialVersionUID = 1L;

  private final String reason;
  private final boolean retryable;
  private final boolean pending;

  public LaunchException(String reason, String message, boolean retryable) {
    this(reason, message, retryable, false);
  }

  private LaunchException(String reason, String message, boolean retryable, boolean pending) {
    super(message);
    this.reason = reason;
    this.retryable = retryable;
    this.pending = pending;
  }

  /**
   * Not a failure: the cloud accepted the request and is still making the machine (an AKS agent
   * pool takes minutes). {@code Launched} stays Unknown and the controller asks again later.
   */
  public static LaunchException pending(String reason, String message) {
    return new LaunchException(reason, message, true, true);
  }

  /** Whether the machine is still being made rather than refused. */
  public boolean pending() {
    return pending;
  }

  /** A failure that trying again cannot fix (the claim's spec is immutable). */
  public static LaunchException permanent(String reason, String message) {
    return new LaunchException(reason, message, false);
  }

  /** A failure that may go away without touching the claim (quota raised, a role granted). */
  public static LaunchException retryable(String reason, String message) {
    return new LaunchException(reason, message, true);
  }

  public String reason() {
    return reason;
  }

  /** Whether a later attempt may succeed (cloud capacity, quota) rather than never (bad spec). */
  public boolean retryable() {
    return retryable;
  }
}
