package sh.kaito.runtime.cli;

/**
 * A failure the user can act on; its message is complete (names the file, URL or image) and is
 * printed as the command's one-line error, without a stack trace.
 */
final class CommandFailure extends Exception {
  CommandFailure(String message) {
    super(message);
  }

  CommandFailure(String message, Throwable cause) {
    super(message, cause);
  }
}
