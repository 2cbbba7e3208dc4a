package sh.kaito.runtime.server;

/**
 * What {@code /metrics} reads from the generation scheduler, in vLLM's terms. {@link
 * GenerationQueue} implements it today; a batching scheduler implements it the same way. Read from
 * the scrape thread, so implementations answer from volatile or atomic state without locking a
 * running step.
 */
interface SchedulerState {

  /** Requests whose sequences are in the running batch ({@code vllm:num_requests_running}). */
  int runningRequests();

  /** Requests accepted and waiting for a place in the batch ({@code vllm:num_requests_waiting}). */
  int waitingRequests();

  /**
   * The fraction of the KV-cache budget that running sequences hold, 0 to 1 ({@code
   * vllm:kv_cache_usage_perc}: "1 means 100 percent usage").
   */
  double kvCacheUsage();
}
