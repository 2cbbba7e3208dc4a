package sh.kaito.runtime.engine;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The KV-cache memory all sequences of a model share, counted in token slots (one slot holds the
 * keys and values of one position in every layer). Caches take slots when they grow and give them
 * back when they shrink or close; a cache that cannot get its slots does not grow. Thread-safe.
 */
public final class KvBudget {

  private final long slots;
  private final long bytesPerSlot;
  private final AtomicLong used = new AtomicLong();

  /**
   * @param slots how many token slots may be held at once
   * @param bytesPerSlot the memory of one slot (for reporting)
   */
  public KvBudget(long slots, long bytesPerSlot) {
    if (slots < 1) {
      throw new IllegalArgumentException("a KV budget needs at least one slot, got " + slots);
    }
    this.slots = slots;
    this.bytesPerSlot = bytesPerSlot;
  }

  /** A budget of {@code bytes} of cache for {@code model}. */
  public static KvBudget ofBytes(CausalLM model, long bytes) {
    long perSlot = model.kvBytesPerToken();
    if (bytes < perSlot) {
      throw new IllegalArgumentException(
          "a KV-cache budget of "
              + bytes
              + " bytes holds no token; one token needs "
              + perSlot
              + " bytes");
    }
    return new KvBudget(bytes / perSlot, perSlot);
  }

  /** No practical limit (tests, tools, a single generation). */
  public static KvBudget unlimited() {
    return new KvBudget(Long.MAX_VALUE, 0);
  }

  boolean tryTake(long n) {
    while (true) {
      long u = used.get();
      if (n > slots - u) {
        return false;
      }
      if (used.compareAndSet(u, u + n)) {
        return true;
      }
    }
  }

  void give(long n) {
    used.addAndGet(-n);
  }

  public long slots() {
    return slots;
  }

  public long used() {
    return used.get();
  }

  public long free() {
    return slots - used.get();
  }

  public long bytesPerSlot() {
    return bytesPerSlot;
  }

  /** Used slots over all slots, 0..1 (vLLM's kv_cache_usage_perc). */
  public double usage() {
    return slots == Long.MAX_VALUE ? 0 : (double) used.get() / slots;
  }
}
