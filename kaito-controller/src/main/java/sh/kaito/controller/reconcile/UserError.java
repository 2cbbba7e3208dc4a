package sh.kaito.controller.reconcile;

/**
 * A problem with what the user wrote (unknown preset, unsupported tuning): reported in the status,
 * logged as one line without a stack trace, and not retried until the workspace changes.
 */
public final class UserError extends RuntimeException {
  public UserError(String message) {
    super(message, null, false, false);
  }
}
