package sh.kaito.controller.status;

/**
 * One condition's outcome before it is written: status, CamelCase reason, and a message telling the
 * user what is going on or what to do.
 */
public record Verdict(boolean ok, String reason, String message) {
  public static Verdict ok(String reason, String message) {
    return new Verdict(true, reason, message);
  }

  public static Verdict notOk(String reason, String message) {
    return new Verdict(false, reason, message);
  }
}
