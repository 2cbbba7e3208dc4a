package sh.kaito.controller.reconcile;

import java.time.Duration;

/** What a reconcile asks of the queue: nothing (wait for an event) or a look again later. */
public record Result(Duration requeueAfter) {
  public static final Result DONE = new Result(null);

  public static Result after(Duration d) {
    return new Result(d);
  }

  public boolean requeue() {
    return requeueAfter != null;
  }

  /** The sooner of two results. */
  public Result and(Result other) {
    if (!requeue()) {
      return other;
    }
    if (!other.requeue()) {
      return this;
    }
    return requeueAfter.compareTo(other.requeueAfter) <= 0 ? this : other;
  }
}
