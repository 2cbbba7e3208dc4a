package sh.kaito.provisioner.lifecycle;

import sh.kaito.provisioner.cloud.Instance;

/** What launching a claim came to. */
sealed interface Launch {

  /** The machine exists (just made, or recorded in the claim's status earlier). */
  record Launched(Instance instance) implements Launch {}

  /**
   * The provider refused the claim; reason and message go to {@code Launched=False}; {@code
   * retryable} when a later attempt may succeed; {@code pending} when the cloud is still making the
   * machine ({@code Launched=Unknown}).
   */
  record Failed(String reason, String message, boolean retryable, boolean pending)
      implements Launch {}
}
