package sh.kaito.runtime.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.lora.LoraDelta;

/**
 * One projection {@code y = x W^T + b} computing one or more projections of the same input: a
 * single HF module (e.g. {@code model.layers.3.self_attn.qkv_proj}), or several fused at load
 * (Llama's {@code q_proj}, {@code k_proj}, {@code v_proj} stacked row-wise into one weight). Each
 * part of the output is named by its HF module path, so LoRA adapters find it by the name PEFT
 * gives it.
 *
 * <p>Callers read the output as consecutive <em>blocks</em> (e.g. q and k together, then v), which
 * need not match the module parts (Phi-3's {@code qkv_proj} is one module). A few rows (decoding)
 * run as one GEMM over the whole weight; many rows (a prompt) run one GEMM per block on row views
 * of the weight: MKL multiplies a [128, 768] input by a 4096-row weight markedly slower than by two
 * 2048-row halves (see docs/runtime.md, benchmark).
 */
final class Linear {

  /** From this many input rows on, each block is its own GEMM. */
  static final long SEPARATE_BLOCKS_FROM_ROWS = 32;

  private final List<String> modules;
  private final long[] sizes;
  private final NDArray weight;
  private final NDArray bias;
  private final long[] blocks;
  private final NDList blockWeights;
  private final NDList blockBiases;

  /**
   * @param modules the module path of each output part, in order
   * @param sizes the output width of each part (same order); they sum to the weight's rows
   * @param bias may be null
   * @param blocks the output widths callers split the result into; they sum to the weight's rows
   */
  Linear(List<String> modules, long[] sizes, NDArray weight, NDArray bias, long... blocks) {
    this.modules = List.copyOf(modules);
    this.sizes = sizes.clone();
    this.weight = weight;
    this.bias = bias;
    this.blocks = blocks.length == 0 ? new long[] {weight.getShape().get(0)} : blocks.clone();
    // Row views of the weight (and bias), owned by the weight's manager.
    this.blockWeights = this.blocks.length > 1 ? split(weight, 0, this.blocks) : null;
    this.blockBiases = this.blocks.length > 1 && bias != null ? split(bias, 0, this.blocks) : null;
  }

  /** A single module, read as the given blocks (none: one block). */
  static Linear of(String module, NDArray weight, NDArray bias, long... blocks) {
    return new Linear(List.of(module), new long[] {weight.getShape().get(0)}, weight, bias, blocks);
  }

  /** Adds each module path with its weight shape {out, in} to {@code into}, in output order. */
  void describe(java.util.Map<String, long[]> into) {
    long in = weight.getShape().get(1);
    for (int i = 0; i < modules.size(); i++) {
      into.put(modules.get(i), new long[] {sizes[i], in});
    }
  }

  /**
   * {@code x} [.., in] -> [.., out] (all parts side by side), each part plus the LoRA deltas that
   * target its module; results live in {@code x}'s manager.
   */
  NDArray apply(NDArray x, Adapters adapters) {
    NDArray y = x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
    if (!targeted(adapters)) {
      return y;
    }
    if (modules.size() == 1) {
      return withDeltas(y, x, adapters.deltas(modules.get(0)));
    }
    NDList parts = split(y, y.getShape().dimension() - 1, sizes);
    NDList updated = new NDList(parts.size());
    for (int i = 0; i < parts.size(); i++) {
      updated.add(withDeltas(parts.get(i), x, adapters.deltas(modules.get(i))));
    }
    return NDArrays.concat(updated, -1);
  }

  /**
   * As {@link #apply}, the output split into its blocks along the last axis: {@code x} [.., in] ->
   * one [.., block] per block.
   */
  NDList applyBlocks(NDArray x, Adapters adapters) {
    long rows = x.getShape().size() / x.getShape().tail();
    if (blocks.length > 1 && rows >= SEPARATE_BLOCKS_FROM_ROWS && !targeted(adapters)) {
      NDList out = new NDList(blocks.length);
      for (int i = 0; i < blocks.length; i++) {
        NDArray b = blockBiases == null ? null : blockBiases.get(i);
        out.add(x.getNDArrayInternal().linear(x, blockWeights.get(i), b).singletonOrThrow());
      }
      return out;
    }
    NDArray y = apply(x, adapters);
    return blocks.length == 1 ? new NDList(y) : split(y, y.getShape().dimension() - 1, blocks);
  }

  /** Whether any active adapter has a delta for one of this projection's modules. */
  private boolean targeted(Adapters adapters) {
    if (adapters.isEmpty()) {
      return false;
    }
    for (String m : modules) {
      if (!adapters.deltas(m).isEmpty()) {
        return true;
      }
    }
    return false;
  }

  private static NDArray withDeltas(NDArray y, NDArray x, List<LoraDelta> deltas) {
    for (LoraDelta d : deltas) {
      // PEFT's order: base(x) + B(A(dropout(x))) * scaling; each update draws its own mask.
      NDArray in =
          d.dropout() > 0
              ? x.getNDArrayInternal().dropout(x, d.dropout(), true).singletonOrThrow()
              : x;
      NDArray down = in.getNDArrayInternal().linear(in, d.a(), null).singletonOrThrow();
      NDArray up = down.getNDArrayInternal().linear(down, d.b(), null).singletonOrThrow();
      // The scale as a tensor libtorch allocates: mul(Number) wraps a Java buffer that is freed
      // when the call returns, while backward still reads it.
      NDArray scale =
          d.rowScales() != null
              // A batch of sequences with different adapters: a factor per row, 0 for the rows
              // of sequences without this adapter.
              ? d.rowScales().reshape(rowsShape(up))
              : up.getManager().full(new Shape(), d.scale(), up.getDataType());
      y = y.add(up.mul(scale));
    }
    return y;
  }

  /** [.., rows, 1] for y [.., rows, out]: the shape a per-row factor broadcasts from. */
  private static Shape rowsShape(NDArray y) {
    long[] dims = y.getShape().getShape().clone();
    dims[dims.length - 1] = 1;
    return new Shape(dims);
  }

  /** Splits {@code axis} of {@code y} into consecutive parts of the given widths (views). */
  private static NDList split(NDArray y, int axis, long... widths) {
    long[] bounds = new long[widths.length - 1];
    long at = 0;
    for (int i = 0; i < bounds.length; i++) {
      at += widths[i];
      bounds[i] = at;
    }
    return y.split(bounds, axis); // DJL: no negative axis
  }
}
