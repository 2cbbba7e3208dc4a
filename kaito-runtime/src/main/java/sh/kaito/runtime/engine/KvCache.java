package sh.kaito.runtime.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * The per-sequence state: keys and values of every layer seen so far. It owns its native memory and
 * must be closed when the sequence ends.
 */
public final class KvCache implements AutoCloseable {

  private final NDManager manager;
  private final NDArray[] keys;
  private final NDArray[] values;
  private long length;
  private long[] tokens = new long[64];

  private final boolean keepsGraph;

  KvCache(NDManager parent, int layers) {
    this(parent, layers, false);
  }

  /**
   * @param keepsGraph true for a training forward pass: keys and values stay part of the autograd
   *     graph
   */
  KvCache(NDManager parent, int layers, boolean keepsGraph) {
    this.keepsGraph = keepsGraph;
    this.manager = parent.newSubManager();
    this.keys = new NDArray[layers];
    this.values = new NDArray[layers];
  }

  /** Tokens already in the cache: the position of the next token. */
  public long length() {
    return length;
  }

  /**
   * Appends the new keys and values of one layer ([batch, kvHeads, newTokens, headDim]) and returns
   * the whole history, {keys, values}, each [batch, kvHeads, length + newTokens, headDim]. The
   * returned arrays belong to the cache: callers must not close them.
   */
  NDArray[] append(int layer, NDArray k, NDArray v) {
    keys[layer] = extend(keys[layer], k);
    values[layer] = extend(values[layer], v);
    return new NDArray[] {keys[layer], values[layer]};
  }

  private NDArray extend(NDArray old, NDArray fresh) {
    // DJL's duplicate() copies under torch's NoGradGuard; a training cache holds fresh itself so
    // that gradients reach the keys and values.
    NDArray all = old != null ? old.concat(fresh, 2) : keepsGraph ? fresh : fresh.duplicate();
    all.attach(manager);
    if (old != null) {
      old.close();
    }
    return all;
  }

  /** Records tokens whose keys and values every layer has appended. */
  void advance(long[] added) {
    if (length + added.length > tokens.length) {
      tokens =
          java.util.Arrays.copyOf(
              tokens, Math.toIntExact(Math.max(2 * tokens.length, length + added.length)));
    }
    System.arraycopy(added, 0, tokens, (int) length, added.length);
    length += added.length;
  }

  /** The tokens in the cache, in order. */
  long[] tokens() {
    return java.util.Arrays.copyOf(tokens, (int) length);
  }

  /** Forgets everything; the next forward starts at position 0. */
  void clear() {
    for (int i = 0; i < keys.length; i++) {
      if (keys[i] != null) {
        keys[i].close();
        values[i].close();
        keys[i] = null;
        values[i] = null;
      }
    }
    length = 0;
  }

  @Override
  public void close() {
    manager.close();
  }
}
