package sh.kaito.provisioner.lifecycle;

import java.time.Duration;

/**
 * The lifecycle's clocks (Karpenter's {@code nodeclaim/lifecycle} constants, made settable so tests
 * need not wait minutes).
 *
 * @param registrationTtl a claim whose node has not registered this long after its {@code
 *     Registered} condition was first written is deleted, and its machine with it (Karpenter's
 *     liveness rule: 15 min)
 * @param pollLaunch how often to look again while the cloud is still making a machine
 * @param pollDelete how often to look again while a machine is being deleted (the cloud sends no
 *     event)
 * @param backoffBase first delay after an error; it doubles with each further error of the same
 *     claim and resets after a pass without one
 * @param backoffMax the longest delay between attempts
 */
public record Timings(
    Duration registrationTtl,
    Duration pollLaunch,
    Duration pollDelete,
    Duration backoffBase,
    Duration backoffMax) {

  public static Timings defaults() {
    return new Timings(
        Duration.ofMinutes(15),
        Duration.ofSeconds(10),
        Duration.ofSeconds(2),
        Duration.ofSeconds(1),
        Duration.ofMinutes(5));
  }

  /** The delay before attempt {@code failures + 1}: base · 2^(failures − 1), at most max. */
  Duration backoff(int failures) {
    int shift = Math.max(0, Math.min(failures - 1, 30));
    Duration d = backoffBase.multipliedBy(1L << shift);
    return d.compareTo(backoffMax) > 0 ? backoffMax : d;
  }
}
