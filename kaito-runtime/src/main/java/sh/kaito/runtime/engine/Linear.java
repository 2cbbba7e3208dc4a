package sh.kaito.runtime.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import java.util.List;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.lora.LoraDelta;

/**
 * One GEMM {@code y = x W^T + b} computing one or more projections of the same input: a single HF
 * module (e.g. {@code model.layers.3.self_attn.qkv_proj}), or several fused at load (Llama's {@code
 * q_proj}, {@code k_proj}, {@code v_proj} stacked row-wise into one weight). Each part of the
 * output is named by its HF module path, so LoRA adapters find it by the name PEFT gives it.
 *
 * @param modules the module path of each output part, in order
 * @param sizes the output width of each part (same order); they sum to the weight's rows
 * @param bias may be null
 */
record Linear(List<String> modules, long[] sizes, NDArray weight, NDArray bias) {

  /** A single module. */
  static Linear of(String module, NDArray weight, NDArray bias) {
    return new Linear(List.of(module), new long[] {weight.getShape().get(0)}, weight, bias);
  }

  /**
   * {@code x} [.., in] -> [.., out] (all parts side by side), each part plus the LoRA deltas that
   * target its module; results live in {@code x}'s manager.
   */
  NDArray apply(NDArray x, Adapters adapters) {
    NDArray y = x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
    if (adapters.isEmpty()) {
      return y;
    }
    if (modules.size() == 1) {
      return withDeltas(y, x, adapters.deltas(modules.get(0)));
    }
    boolean any = false;
    for (String m : modules) {
      any |= !adapters.deltas(m).isEmpty();
    }
    if (!any) {
      return y;
    }
    NDList parts = split(y, sizes);
    NDList updated = new NDList(parts.size());
    for (int i = 0; i < parts.size(); i++) {
      updated.add(withDeltas(parts.get(i), x, adapters.deltas(modules.get(i))));
    }
    return NDArrays.concat(updated, -1);
  }

  private static NDArray withDeltas(NDArray y, NDArray x, List<LoraDelta> deltas) {
    for (LoraDelta d : deltas) {
      // PEFT's order: base(x) + B(A(x)) * scaling
      NDArray down = x.getNDArrayInternal().linear(x, d.a(), null).singletonOrThrow();
      NDArray up = down.getNDArrayInternal().linear(down, d.b(), null).singletonOrThrow();
      y = y.add(up.mul(d.scale()));
    }
    return y;
  }

  /** Splits the last axis of {@code y} into consecutive parts of the given widths (views). */
  static NDList split(NDArray y, long... widths) {
    long[] bounds = new long[widths.length - 1];
    long at = 0;
    for (int i = 0; i < bounds.length; i++) {
      at += widths[i];
      bounds[i] = at;
    }
    return y.split(bounds, y.getShape().dimension() - 1); // DJL: no negative axis
  }
}
