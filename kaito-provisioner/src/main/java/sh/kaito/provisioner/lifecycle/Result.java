package sh.kaito.provisioner.lifecycle;

import java.time.Duration;

/** What a reconcile asks for next: nothing (wait for an event) or a requeue after a delay. */
record Result(Duration requeueAfter) {
  static final Result DONE = new Result(null);

  static Result after(Duration delay) {
    return new Result(delay);
  }

  boolean requeue() {
    return requeueAfter != null;
  }
}
