package sh.kaito.runtime.engine;

/** Where CPU weights live once loaded. Either way the Java heap holds none of them. */
public enum WeightPlacement {
  /**
   * F32 tensors are served straight from the read-only file mapping: no copy, the page cache is the
   * only resident copy, shared between processes. The default.
   */
  MAPPED,
  /**
   * Each tensor is copied once from its map into libtorch's own (anonymous, writable) memory:
   * resident memory no longer depends on the page cache, and code that must modify weights can. On
   * the project machine the speed difference was within the noise of a shared machine.
   */
  NATIVE_COPY
}
