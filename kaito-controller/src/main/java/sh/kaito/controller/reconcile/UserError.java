package sh.kaito.controller.reconcile;

import java.time.Duration;

/**
 * A problem with what the user wrote (unknown preset, unsupported tuning): reported in the status,
 * logged as one line without a stack trace, and not retried until the workspace changes — or, when
 * the fix is an object the controller does not watch (a ConfigMap created later), looked at again
 * after {@link #retryAfter()}.
 */
public final class UserError extends RuntimeException {
  private final transient Duration retryAfter;

  public UserError(String message) {
    this(message, null);
  }

  public UserError(String message, Duration retryAfter) {
    super(message, null, false, false);
    this.retryAfter = retryAfter;
  }

  /** When to look again without a change to the workspace, or null for never. */
  public Duration retryAfter() {
    return retryAfter;
  }
}
