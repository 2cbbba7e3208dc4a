package sh.kaito.runtime.engine;

import ai.djl.ndarray.NDArray;
import java.util.List;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.lora.LoraDelta;

/**
 * A projection {@code y = x W^T + b} named by its HF module path (e.g. {@code
 * model.layers.3.self_attn.qkv_proj}), so LoRA adapters find it by the name PEFT gives it.
 *
 * @param bias may be null
 */
record Linear(String module, NDArray weight, NDArray bias) {

  /** {@code x} [.., in] -> [.., out]; results live in {@code x}'s manager. */
  NDArray apply(NDArray x, Adapters adapters) {
    NDArray y = x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
    List<LoraDelta> deltas = adapters.deltas(module);
    for (LoraDelta d : deltas) {
      // PEFT's order: base(x) + B(A(x)) * scaling
      NDArray down = x.getNDArrayInternal().linear(x, d.a(), null).singletonOrThrow();
      NDArray up = down.getNDArrayInternal().linear(down, d.b(), null).singletonOrThrow();
      y = y.add(up.mul(d.scale()));
    }
    return y;
  }
}
