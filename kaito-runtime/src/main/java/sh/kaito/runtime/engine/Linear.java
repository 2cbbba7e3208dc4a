package sh.kaito.runtime.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.lora.LoraDelta;
import sh.kaito.runtime.quant.FourBitWeights;

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
 *
 * <p>The weight is a dense tensor, or 4-bit codes (QLoRA's NF4, {@link #fourBit}) dequantized into
 * the compute type on every call, so only one projection's full-precision weight exists at a time
 * (while a training step runs, autograd keeps each call's until backward has used it). Biases stay
 * in full precision, as bitsandbytes' {@code Linear4bit} keeps them.
 */
final class Linear {

  /** From this many input rows on, each block is its own GEMM. */
  static final long SEPARATE_BLOCKS_FROM_ROWS = 32;

  private final List<String> modules;
  private final long[] sizes;
  private final Weight weight;
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
    this(modules, sizes, new Dense(weight), bias, blocks);
  }

  private Linear(List<String> modules, long[] sizes, Weight weight, NDArray bias, long... blocks) {
    this.modules = List.copyOf(modules);
    this.sizes = sizes.clone();
    this.weight = weight;
    this.bias = bias;
    this.blocks = blocks.length == 0 ? new long[] {weight.rows()} : blocks.clone();
    // Row views of a dense weight (and bias), owned by the weight's manager.
    this.blockWeights =
        this.blocks.length > 1 && weight instanceof Dense d
            ? split(d.tensor(), 0, this.blocks)
            : null;
    this.blockBiases = this.blocks.length > 1 && bias != null ? split(bias, 0, this.blocks) : null;
  }

  /** A single module, read as the given blocks (none: one block). */
  static Linear of(String module, NDArray weight, NDArray bias, long... blocks) {
    return new Linear(List.of(module), new long[] {weight.getShape().get(0)}, weight, bias, blocks);
  }

  /**
   * Modules whose weights are held in 4 bits, one {@link FourBitWeights} per module as bitsandbytes
   * quantizes each HF module (its blocks run over that module's flattened weight); each call
   * dequantizes them side by side into one weight in the compute type, used for that call only.
   *
   * @param parts each module's 4-bit weight [size, in], row-major
   * @param dataType the compute type (float32 on the CPU)
   * @param device where the dequantized weight goes
   */
  static Linear fourBit(
      List<String> modules,
      long[] sizes,
      long in,
      List<FourBitWeights> parts,
      DataType dataType,
      Device device,
      NDArray bias,
      long... blocks) {
    return new Linear(
        modules, sizes, new FourBit(List.copyOf(parts), in, dataType, device), bias, blocks);
  }

  /** Whether the base weight is held in 4 bits. */
  boolean fourBit() {
    return weight instanceof FourBit;
  }

  /** The bytes the base weight holds (4-bit codes and scales, or the dense tensor's bytes). */
  long weightBytes() {
    return weight.residentBytes();
  }

  /** The bytes the base weight would take as float32. */
  long float32WeightBytes() {
    return 4L * weight.rows() * weight.columns();
  }

  /** A projection's weight [out, in]. */
  private sealed interface Weight permits Dense, FourBit {
    long rows();

    long columns();

    long residentBytes();

    /** The weight as a tensor for one call, owned by {@code scope} unless it is the model's own. */
    NDArray tensor(NDManager scope);
  }

  private record Dense(NDArray tensor) implements Weight {
    @Override
    public long rows() {
      return tensor.getShape().get(0);
    }

    @Override
    public long columns() {
      return tensor.getShape().get(1);
    }

    @Override
    public long residentBytes() {
      return tensor.getShape().size() * tensor.getDataType().getNumOfBytes();
    }

    @Override
    public NDArray tensor(NDManager scope) {
      return tensor;
    }
  }

  private record FourBit(List<FourBitWeights> parts, long columns, DataType dataType, Device device)
      implements Weight {
    /** Reused for every dequantization on a thread; grows to the largest weight. */
    private static final ThreadLocal<ByteBuffer[]> STAGING =
        ThreadLocal.withInitial(() -> new ByteBuffer[1]);

    @Override
    public long rows() {
      long n = 0;
      for (FourBitWeights p : parts) {
        n += p.numel();
      }
      return n / columns;
    }

    @Override
    public long residentBytes() {
      long n = 0;
      for (FourBitWeights p : parts) {
        n += p.residentBytes();
      }
      return n;
    }

    /**
     * Dequantizes every part into a staging buffer (parts are row blocks, so their flattened values
     * lie end to end), then gives libtorch its own copy: a tensor over Java memory must not outlive
     * it, and backward holds this one until it has run.
     */
    @Override
    public NDArray tensor(NDManager scope) {
      long rows = rows();
      int numel = Math.toIntExact(rows * columns);
      ByteBuffer[] holder = STAGING.get();
      if (holder[0] == null || holder[0].capacity() < 4L * numel) {
        holder[0] = ByteBuffer.allocateDirect(Math.multiplyExact(numel, 4));
        holder[0].order(ByteOrder.nativeOrder());
      }
      ByteBuffer bytes = holder[0].duplicate().order(ByteOrder.nativeOrder());
      bytes.limit(4 * numel);
      FloatBuffer values = bytes.asFloatBuffer();
      int at = 0;
      for (FourBitWeights p : parts) {
        p.dequantizeInto(values, at);
        at += p.numel();
      }
      NDArray view =
          scope.create(
              bytes.slice().order(ByteOrder.nativeOrder()),
              new Shape(rows, columns),
              DataType.FLOAT32);
      NDArray owned = device.isGpu() ? view.toDevice(device, true) : view.duplicate();
      view.close();
      if (owned.getDataType() != dataType) {
        NDArray converted = owned.toType(dataType, false);
        owned.close();
        owned = converted;
      }
      owned.attach(scope);
      return owned;
    }
  }

  /** Adds each module path with its weight shape {out, in} to {@code into}, in output order. */
  void describe(java.util.Map<String, long[]> into) {
    long in = weight.columns();
    for (int i = 0; i < modules.size(); i++) {
      into.put(modules.get(i), new long[] {sizes[i], in});
    }
  }

  /**
   * {@code x} [.., in] -> [.., out] (all parts side by side), each part plus the LoRA deltas that
   * target its module; results live in {@code x}'s manager.
   */
  NDArray apply(NDArray x, Adapters adapters) {
    return apply(x, weight.tensor(x.getManager()), adapters);
  }

  private NDArray apply(NDArray x, NDArray w, Adapters adapters) {
    NDArray y = x.getNDArrayInternal().linear(x, w, bias).singletonOrThrow();
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
    NDArray w = weight.tensor(x.getManager());
    if (blocks.length > 1 && rows >= SEPARATE_BLOCKS_FROM_ROWS && !targeted(adapters)) {
      NDList views = blockWeights != null ? blockWeights : split(w, 0, blocks);
      NDList out = new NDList(blocks.length);
      for (int i = 0; i < blocks.length; i++) {
        NDArray b = blockBiases == null ? null : blockBiases.get(i);
        out.add(x.getNDArrayInternal().linear(x, views.get(i), b).singletonOrThrow());
      }
      return out;
    }
    NDArray y = apply(x, w, adapters);
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
