package sh.kaito.runtime.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * The per-sequence state: keys and values of every layer seen so far. Each layer's keys (and
 * values) are one preallocated tensor [1, kvHeads, capacity, headDim] that new positions are
 * written into; the cache grows (one copy, to half as much again) only when its capacity runs out,
 * and only as far as its {@link KvBudget} allows. It owns its native memory and must be closed when
 * the sequence ends; closing gives its slots back to the budget. Not thread-safe.
 */
public final class KvCache implements AutoCloseable {

  /** Capacities are multiples of this many positions. */
  static final int BLOCK = 16;

  private final NDManager manager;
  private final KvBudget budget;
  private final Shape perPosition; // {kvHeads, headDim}
  private final DataType dataType;
  private final NDArray[] keys;
  private final NDArray[] values;
  private long capacity;
  private long length;
  private long[] tokens = new long[BLOCK];

  private final boolean keepsGraph;

  KvCache(NDManager parent, int layers, Shape perPosition, DataType dataType, KvBudget budget) {
    this(parent, layers, perPosition, dataType, budget, false);
  }

  /**
   * @param keepsGraph true for a training forward pass: keys and values stay part of the autograd
   *     graph (kept as computed, not copied into preallocated memory)
   */
  KvCache(
      NDManager parent,
      int layers,
      Shape perPosition,
      DataType dataType,
      KvBudget budget,
      boolean keepsGraph) {
    this.keepsGraph = keepsGraph;
    this.manager = parent.newSubManager();
    this.budget = budget;
    this.perPosition = perPosition;
    this.dataType = dataType;
    this.keys = new NDArray[layers];
    this.values = new NDArray[layers];
  }

  /** Tokens already in the cache: the position of the next token. */
  public long length() {
    return length;
  }

  /** Positions the cache holds memory for. */
  public long capacity() {
    return capacity;
  }

  /**
   * Makes room for {@code total} positions, taking the slots from the budget.
   *
   * @return false (and nothing changed) when the budget cannot give them
   */
  public boolean reserve(long total) {
    if (total <= capacity || keepsGraph) {
      return true;
    }
    long needed = roundUp(total);
    long generous = Math.max(needed, roundUp(capacity + capacity / 2));
    long target = budget.tryTake(generous - capacity) ? generous : 0;
    if (target == 0) {
      if (!budget.tryTake(needed - capacity)) {
        return false;
      }
      target = needed;
    }
    for (int i = 0; i < keys.length; i++) {
      keys[i] = grown(keys[i], target);
      values[i] = grown(values[i], target);
    }
    capacity = target;
    return true;
  }

  private static long roundUp(long n) {
    return (n + BLOCK - 1) / BLOCK * BLOCK;
  }

  private NDArray grown(NDArray old, long target) {
    NDArray fresh =
        manager.create(
            new Shape(1, perPosition.get(0), target, perPosition.get(1)), dataType); // empty
    if (old != null) {
      if (length > 0) {
        try (NDArray held = old.get(new NDIndex(":, :, :{}", length))) {
          fresh.set(new NDIndex(":, :, :{}", length), held);
        }
      }
      old.close();
    }
    return fresh;
  }

  /**
   * Writes the new keys and values of one layer ([1, kvHeads, newTokens, headDim]) after the cached
   * positions and returns the whole history, {keys, values}, each [1, kvHeads, length + newTokens,
   * headDim], as views owned by {@code scope}. Capacity must have been reserved.
   */
  NDArray[] append(int layer, NDArray k, NDArray v, NDManager scope) {
    if (keepsGraph) {
      // DJL's duplicate() copies under torch's NoGradGuard; a training cache holds the keys and
      // values themselves so that gradients reach them.
      keys[layer] = keys[layer] == null ? k : keys[layer].concat(k, 2);
      values[layer] = values[layer] == null ? v : values[layer].concat(v, 2);
      return new NDArray[] {keys[layer], values[layer]};
    }
    long n = k.getShape().get(2);
    if (length + n > capacity) {
      throw new IllegalStateException(
          "KV cache holds " + capacity + " positions, " + (length + n) + " needed");
    }
    NDIndex fresh = new NDIndex(":, :, {}:{}", length, length + n);
    keys[layer].set(fresh, k);
    values[layer].set(fresh, v);
    NDIndex all = new NDIndex(":, :, :{}", length + n);
    NDArray kAll = keys[layer].get(all);
    NDArray vAll = values[layer].get(all);
    kAll.attach(scope);
    vAll.attach(scope);
    return new NDArray[] {kAll, vAll};
  }

  /** Records tokens whose keys and values every layer has appended. */
  void advance(long[] added) {
    if (length + added.length > tokens.length) {
      tokens =
          Arrays.copyOf(
              tokens, Math.toIntExact(Math.max(2L * tokens.length, length + added.length)));
    }
    System.arraycopy(added, 0, tokens, (int) length, added.length);
    length += added.length;
  }

  /** The tokens in the cache, in order. */
  long[] tokens() {
    return Arrays.copyOf(tokens, (int) length);
  }

  /**
   * Makes this (empty) cache hold what {@code source} holds: a sequence that shares another's
   * prompt starts from a copy of its keys and values instead of running the prompt again.
   *
   * @return false (nothing copied) when the budget cannot give the slots
   */
  public boolean copyFrom(KvCache source) {
    if (length != 0 || keepsGraph || source.keepsGraph) {
      throw new IllegalStateException("only an empty inference cache can be filled by a copy");
    }
    if (!reserve(source.length)) {
      return false;
    }
    if (source.length > 0) {
      NDIndex held = new NDIndex(":, :, :{}", source.length);
      for (int i = 0; i < keys.length; i++) {
        try (NDArray k = source.keys[i].get(held);
            NDArray v = source.values[i].get(held)) {
          keys[i].set(held, k);
          values[i].set(held, v);
        }
      }
    }
    advance(source.tokens());
    return true;
  }

  /** Forgets everything and gives the memory back; the next forward starts at position 0. */
  public void clear() {
    for (int i = 0; i < keys.length; i++) {
      if (keys[i] != null) {
        keys[i].close();
        values[i].close();
        keys[i] = null;
        values[i] = null;
      }
    }
    budget.give(capacity);
    capacity = 0;
    length = 0;
  }

  @Override
  public void close() {
    budget.give(capacity);
    capacity = 0;
    manager.close();
  }
}
