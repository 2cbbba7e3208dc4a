package sh.kaito.runtime.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.model.ModelConfig;
import sh.kaito.runtime.model.ModelFormatException;
import sh.kaito.runtime.model.WeightStore;
import sh.kaito.runtime.quant.FourBitFormat;
import sh.kaito.runtime.quant.FourBitQuantizer;
import sh.kaito.runtime.quant.FourBitWeights;

/**
 * A decoder-only causal language model (Llama, Mistral, Qwen2, Phi-3): configuration plus weights,
 * immutable after loading and safe to share between requests. Per-sequence state lives in a {@link
 * KvCache}; every call takes the {@link NDManager} its temporaries belong to.
 */
public final class CausalLM implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(CausalLM.class);

  /**
   * The projections of one decoder layer. q/k/v are one GEMM and so are gate/up: Phi-3 stores them
   * fused, the other families are fused at load.
   */
  private record Layer(
      NDArray inputNorm,
      NDArray postAttentionNorm,
      Linear qkv,
      Linear o,
      Linear gateUp,
      Linear down,
      int slidingWindow) {}

  private final ModelConfig config;
  private final NDManager manager;
  private final DataType dataType;
  private final NDArray embedding;
  private final Layer[] layers;
  private final NDArray finalNorm;
  private final Linear lmHead;
  // Scalars as tensors made once: NDArray.add(Number) / mul(Number) create and free a native
  // tensor on every call.
  private final NDArray normEpsilon; // fp32, RMSNorm runs in fp32
  private final NDArray attentionScale; // fp32, 1/sqrt(headDim)
  private final AtomicLong forwardCalls = new AtomicLong();

  private CausalLM(
      ModelConfig config,
      NDManager manager,
      DataType dataType,
      NDArray embedding,
      Layer[] layers,
      NDArray finalNorm,
      Linear lmHead) {
    this.config = config;
    this.manager = manager;
    this.dataType = dataType;
    this.embedding = embedding;
    this.layers = layers;
    this.finalNorm = finalNorm;
    this.lmHead = lmHead;
    this.normEpsilon = manager.create((float) config.rmsNormEps());
    this.attentionScale = manager.create((float) (1.0 / Math.sqrt(config.headDim())));
  }

  /**
   * Loads {@code config.json} and the safetensors weights of a HF model directory. On CPU weights
   * are fp32 (bf16/fp16 widened; fp32 tensors read straight from the file maps, {@link
   * WeightPlacement#MAPPED}); on a GPU they are fp16.
   */
  public static CausalLM load(Path dir, Device device) throws IOException {
    return load(dir, device, WeightPlacement.MAPPED);
  }

  /** As {@link #load(Path, Device)}, choosing where CPU weights live. */
  public static CausalLM load(Path dir, Device device, WeightPlacement placement)
      throws IOException {
    return load(dir, device, placement, null);
  }

  /**
   * As {@link #load(Path, Device, WeightPlacement)}; with {@code fourBit} the decoder layers'
   * projections are quantized while loading (one tensor read at a time, never mapped) and held in 4
   * bits, as transformers' {@code load_in_4bit} holds them; embeddings, norms, biases and {@code
   * lm_head} stay in full precision.
   */
  public static CausalLM load(
      Path dir, Device device, WeightPlacement placement, FourBitFormat fourBit)
      throws IOException {
    Devices.requireAvailable(device);
    ModelConfig config = ModelConfig.load(dir);
    WeightStore weights = WeightStore.open(dir);
    DataType dataType = device.isGpu() ? DataType.FLOAT16 : DataType.FLOAT32;
    NDManager manager = NDManager.newBaseManager(device, "PyTorch");
    try {
      Loader l = new Loader(weights, manager, dataType, device, placement, fourBit);
      Layer[] layers = new Layer[config.numLayers()];
      boolean fused = config.architecture().fusedProjections();
      // Blocks the forward pass reads: q and k together (RoPE runs on both at once), then v; gate
      // and up.
      long[] qkvBlocks = {
        (long) (config.numHeads() + config.numKvHeads()) * config.headDim(),
        (long) config.numKvHeads() * config.headDim()
      };
      long[] gateUpBlocks = {config.intermediateSize(), config.intermediateSize()};
      for (int i = 0; i < layers.length; i++) {
        String p = "model.layers." + i + ".";
        layers[i] =
            new Layer(
                l.tensor(p + "input_layernorm.weight"),
                l.tensor(p + "post_attention_layernorm.weight"),
                fused
                    ? l.linear(p + "self_attn.qkv_proj", false, qkvBlocks)
                    : l.fused(
                        config.attentionBias(),
                        qkvBlocks,
                        p + "self_attn.q_proj",
                        p + "self_attn.k_proj",
                        p + "self_attn.v_proj"),
                l.linear(p + "self_attn.o_proj", config.outputBias()),
                fused
                    ? l.linear(p + "mlp.gate_up_proj", false, gateUpBlocks)
                    : l.fused(
                        config.mlpBias(), gateUpBlocks, p + "mlp.gate_proj", p + "mlp.up_proj"),
                l.linear(p + "mlp.down_proj", config.mlpBias()),
                config.slidingWindowPerLayer()[i]);
      }
      NDArray embedding = l.tensor("model.embed_tokens.weight");
      Linear lmHead =
          config.tieWordEmbeddings() || !weights.contains("lm_head.weight")
              ? Linear.of("lm_head", embedding, null)
              : Linear.of("lm_head", l.tensor("lm_head.weight"), null);
      if (!config.tieWordEmbeddings() && !weights.contains("lm_head.weight")) {
        throw new ModelFormatException(
            dir + ": no lm_head.weight and tie_word_embeddings is false");
      }
      CausalLM model =
          new CausalLM(
              config, manager, dataType, embedding, layers, l.tensor("model.norm.weight"), lmHead);
      LOG.info(
          "model loaded dir={} architecture={} layers={} hidden={} device={} dtype={}",
          dir,
          config.architecture().hfName(),
          config.numLayers(),
          config.hiddenSize(),
          device,
          dataType);
      if (fourBit != null) {
        BaseWeightBytes b = model.baseWeightBytes();
        LOG.info(
            "base projections in 4 bits format={} compute_dtype={} bytes={} float32_bytes={}"
                + " ratio={}",
            fourBit,
            dataType,
            b.held(),
            b.float32(),
            String.format(java.util.Locale.ROOT, "%.3f", (double) b.held() / b.float32()));
      }
      return model;
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /**
   * Loads tensors onto the model's device, in the model's float type; with {@code fourBit}, the
   * decoder projections ({@link #linear}, {@link #fused}) in 4 bits.
   */
  private record Loader(
      WeightStore weights,
      NDManager manager,
      DataType dataType,
      Device device,
      WeightPlacement placement,
      FourBitFormat fourBit) {
    NDArray tensor(String name) throws IOException {
      if (!device.isGpu()) {
        NDArray t = weights.load(name, manager, dataType);
        if (placement == WeightPlacement.NATIVE_COPY && weights.isMappedAs(name, dataType)) {
          NDArray copy = t.duplicate();
          t.close();
          return copy;
        }
        return t;
      }
      try (NDManager host = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
        NDArray onHost = weights.load(name, host, dataType);
        NDArray onDevice = onHost.toDevice(device, true);
        onDevice.attach(manager);
        return onDevice;
      }
    }

    Linear linear(String module, boolean bias, long... blocks) throws IOException {
      if (fourBit != null) {
        return fused(bias, blocks, module);
      }
      return Linear.of(
          module, tensor(module + ".weight"), bias ? tensor(module + ".bias") : null, blocks);
    }

    /** Each module quantized on its own, as bitsandbytes quantizes each {@code Linear4bit}. */
    private Linear fourBit(boolean bias, long[] blocks, String... modules) throws IOException {
      List<FourBitWeights> parts = new ArrayList<>();
      NDList biases = new NDList();
      long[] sizes = new long[modules.length];
      long in = -1;
      for (int i = 0; i < modules.length; i++) {
        long[] shape = weights.shape(modules[i] + ".weight");
        if (shape.length != 2 || (in >= 0 && shape[1] != in)) {
          throw new ModelFormatException(
              modules[i] + ".weight has shape " + java.util.Arrays.toString(shape));
        }
        in = shape[1];
        sizes[i] = shape[0];
        FourBitQuantizer.Streaming quantizer =
            fourBit.streaming(Math.toIntExact(shape[0] * shape[1]));
        weights.readFloats(modules[i] + ".weight", quantizer::accept);
        parts.add(quantizer.finish());
        if (bias) {
          biases.add(tensor(modules[i] + ".bias"));
        }
      }
      NDArray b = bias ? NDArrays.concat(biases, 0) : null;
      if (b != null) {
        b.attach(manager);
      }
      biases.close();
      return Linear.fourBit(List.of(modules), sizes, in, parts, dataType, device, b, blocks);
    }

    /**
     * Projections of the same input as one {@link Linear}: weights (and biases) stacked along the
     * output axis into a new tensor, read as {@code blocks}; the loaded pieces are freed.
     */
    Linear fused(boolean bias, long[] blocks, String... modules) throws IOException {
      if (fourBit != null) {
        return fourBit(bias, blocks, modules);
      }
      NDList weights = new NDList();
      NDList biases = new NDList();
      long[] sizes = new long[modules.length];
      for (int i = 0; i < modules.length; i++) {
        weights.add(tensor(modules[i] + ".weight"));
        sizes[i] = weights.get(i).getShape().get(0);
        if (bias) {
          biases.add(tensor(modules[i] + ".bias"));
        }
      }
      NDArray w = NDArrays.concat(weights, 0); // [sum of outs, in]
      NDArray b = bias ? NDArrays.concat(biases, 0) : null;
      w.attach(manager);
      if (b != null) {
        b.attach(manager);
      }
      weights.close();
      biases.close();
      return new Linear(List.of(modules), sizes, w, b, blocks);
    }
  }

  public ModelConfig config() {
    return config;
  }

  /**
   * What the decoder layers' projections hold: their resident bytes (4-bit codes and scales, or
   * dense tensors) and what they would take as float32.
   */
  public record BaseWeightBytes(long held, long float32) {}

  /** Counted from the projections' own buffers; see {@link BaseWeightBytes}. */
  public BaseWeightBytes baseWeightBytes() {
    long held = 0;
    long full = 0;
    for (Layer layer : layers) {
      for (Linear p : List.of(layer.qkv(), layer.o(), layer.gateUp(), layer.down())) {
        held += p.weightBytes();
        full += p.float32WeightBytes();
      }
    }
    return new BaseWeightBytes(held, full);
  }

  /** The manager weights live in; adapters load into sub-managers of it. */
  public NDManager manager() {
    return manager;
  }

  public DataType dataType() {
    return dataType;
  }

  /**
   * Every linear module of the decoder layers by HF module path (as PEFT names it, e.g. {@code
   * model.layers.0.self_attn.q_proj}), in model order, with its weight shape {out, in}; the output
   * layer ({@code lm_head}) is not among them.
   */
  public Map<String, long[]> linearModules() {
    Map<String, long[]> out = new java.util.LinkedHashMap<>();
    for (Layer layer : layers) {
      layer.qkv().describe(out);
      layer.o().describe(out);
      layer.gateUp().describe(out);
      layer.down().describe(out);
    }
    return out;
  }

  /**
   * Logits of every position of one sequence from position 0, as {@link #forward}: with a gradient
   * collector open (training), the graph from the adapters' parameters to them is recorded.
   *
   * @return fp32 [tokens, vocab], owned by {@code scope}
   */
  public NDArray logitsFromStart(NDManager scope, long[] tokens, Adapters adapters) {
    return logitsFromStart(scope, tokens, adapters, null);
  }

  /**
   * As {@link #logitsFromStart(NDManager, long[], Adapters)} for the positions where {@code rows}
   * is true only (the output layer runs on those alone, as TRL's chunked loss does): [selected,
   * vocab]; null rows: every position.
   */
  public NDArray logitsFromStart(
      NDManager scope, long[] tokens, Adapters adapters, boolean[] rows) {
    try (KvCache cache =
        new KvCache(manager, config.numLayers(), kvShape(), dataType, KvBudget.unlimited(), true)) {
      return forward(scope, List.of(new Chunk(tokens, cache, adapters, false)), rows);
    }
  }

  /** A fresh, empty cache for one sequence, as large as it needs to grow. */
  public KvCache newCache() {
    return newCache(KvBudget.unlimited());
  }

  /** A fresh, empty cache for one sequence, growing only as far as {@code budget} allows. */
  public KvCache newCache(KvBudget budget) {
    return new KvCache(manager, config.numLayers(), kvShape(), dataType, budget);
  }

  /** The cache memory of one position (keys and values of every layer), in bytes. */
  public long kvBytesPerToken() {
    return 2L
        * config.numLayers()
        * config.numKvHeads()
        * config.headDim()
        * dataType.getNumOfBytes();
  }

  private Shape kvShape() {
    return new Shape(config.numKvHeads(), config.headDim());
  }

  /** How many times {@link #forward} ran (all entry points): one per batched step. */
  public long forwardCalls() {
    return forwardCalls.get();
  }

  /**
   * One sequence's part of a batched forward call: its new {@code tokens}, run after what {@code
   * cache} holds (and appended to it), with its own adapters.
   *
   * @param lastOnly when true only the last position's logits are computed
   */
  public record Chunk(long[] tokens, KvCache cache, Adapters adapters, boolean lastOnly) {}

  /**
   * Runs {@code tokens} (one sequence) through the model after what {@code cache} holds, and adds
   * them to the cache.
   *
   * @param scope owns every temporary and the returned logits
   * @param lastOnly when true only the last position's logits are computed
   * @return fp32 logits, [tokens, vocab] or [1, vocab]
   */
  public NDArray forward(
      NDManager scope, long[] tokens, KvCache cache, Adapters adapters, boolean lastOnly) {
    return forward(scope, List.of(new Chunk(tokens, cache, adapters, lastOnly)));
  }

  /**
   * Runs several sequences in one pass: each chunk at its own positions over its own cache, with
   * its own adapters. The projections run once over the rows of all chunks; attention runs per
   * sequence over its cache. Caches must not repeat.
   *
   * @return fp32 logits of the rows each chunk asks for, chunk after chunk: [rows, vocab]
   */
  public NDArray forward(NDManager scope, List<Chunk> chunks) {
    return forward(scope, chunks, null);
  }

  /**
   * As {@link #forward(NDManager, List)}; when {@code outputRows} is not null (one chunk, a boolean
   * per token, lastOnly false) only those positions go through the output layer: [rows set, vocab].
   */
  private NDArray forward(NDManager scope, List<Chunk> chunks, boolean[] outputRows) {
    if (chunks.isEmpty()) {
      throw new IllegalArgumentException("no sequences to run");
    }
    forwardCalls.incrementAndGet();
    int b = chunks.size();
    long[][] tokens = new long[b][];
    long[] past = new long[b];
    int[] n = new int[b];
    int[] read = new int[b]; // rows whose logits the caller reads
    int total = 0;
    for (int i = 0; i < b; i++) {
      Chunk c = chunks.get(i);
      long[] t = c.tokens();
      if (t.length == 0) {
        throw new IllegalArgumentException("no tokens to run");
      }
      for (long id : t) {
        if (id < 0 || id >= config.vocabSize()) {
          throw new IllegalArgumentException(
              "token id " + id + " is outside the vocabulary [0, " + config.vocabSize() + ")");
        }
      }
      read[i] = c.lastOnly() ? 1 : t.length;
      KvCache cache = c.cache();
      if (config.rope().invalidatesCache(cache.length(), cache.length() + t.length)) {
        // As HF's Phi-3: keys rotated with the short LongRoPE factors are dropped once the
        // sequence passes the original context, and the whole sequence is run with the long
        // factors.
        long[] all = new long[(int) cache.length() + t.length];
        System.arraycopy(cache.tokens(), 0, all, 0, (int) cache.length());
        System.arraycopy(t, 0, all, (int) cache.length(), t.length);
        cache.clear();
        t = all;
      }
      tokens[i] = t;
      past[i] = cache.length();
      n[i] = t.length;
      if (!cache.reserve(past[i] + n[i])) {
        throw new IllegalStateException(
            "the KV-cache budget has no room for " + (past[i] + n[i]) + " positions");
      }
      total += n[i];
    }
    long[] flat = new long[total];
    for (int i = 0, at = 0; i < b; at += n[i], i++) {
      System.arraycopy(tokens[i], 0, flat, at, n[i]);
    }
    NDArray ids = scope.create(flat).expandDims(0).toDevice(manager.getDevice(), false); // [1, T]
    ids.attach(scope);
    NDArray x =
        ids.getNDArrayInternal().embedding(ids, embedding, SparseFormat.DENSE).head(); // [1,T,D]
    NDArray[] cosSin = rotary(scope, past, n, total);
    Adapters allRows = rowAdapters(scope, chunks, n);
    Adapters readRows = rowAdapters(scope, chunks, read);
    // Every layer needs all rows for the keys and values of the next; after the last layer's
    // attention only the rows read go on, so its o_proj and MLP run on them alone (a prompt's
    // prefill: one row instead of n).
    List<Map<Integer, NDArray>> masks = new ArrayList<>(b);
    for (int i = 0; i < b; i++) {
      masks.add(new HashMap<>());
    }
    Batch batch = new Batch(scope, chunks, past, n, masks);
    for (int i = 0; i < layers.length; i++) {
      Layer layer = layers[i];
      boolean last = i == layers.length - 1;
      // Each layer's temporaries (and its input) are freed when the layer ends, so the next layer
      // reuses memory that is mapped and in cache instead of touching new pages: a 128-token
      // prefill runs ~20% faster than with all temporaries held until the end of the call.
      try (NDManager layerScope = scope.newSubManager()) {
        x.attach(layerScope);
        x = decoderLayer(layerScope, i, x, cosSin, batch, allRows, readRows, n, read, last);
        x.attach(scope);
      }
    }
    for (int i = 0; i < b; i++) {
      chunks.get(i).cache().advance(tokens[i]);
    }
    return outputLayer(scope, x, readRows, outputRows);
  }

  /**
   * Decoder layer {@code index} on x [1, T, D] (the rows of every chunk): every row goes through
   * attention (each chunk's keys and values into its cache); when {@code last}, only the rows read
   * go on through o_proj and the MLP.
   */
  private NDArray decoderLayer(
      NDManager layerScope,
      int index,
      NDArray x,
      NDArray[] cosSin,
      Batch batch,
      Adapters allRows,
      Adapters readRows,
      int[] n,
      int[] read,
      boolean last) {
    Layer layer = layers[index];
    NDArray h = rmsNorm(x, layer.inputNorm());
    NDArray attended =
        attention(
            layerScope,
            layer,
            index,
            h,
            cosSin,
            batch,
            allRows,
            last ? read : n,
            last ? readRows : allRows);
    x = (last ? readRows(x, n, read) : x).add(attended);
    h = rmsNorm(x, layer.postAttentionNorm());
    return x.add(mlp(layer, h, last ? readRows : allRows));
  }

  /** Final norm and lm_head on x [1, rows, D] (only {@code outputRows}, when set): fp32 logits. */
  private NDArray outputLayer(NDManager scope, NDArray x, Adapters adapters, boolean[] outputRows) {
    NDArray normed = rmsNorm(x, finalNorm);
    if (outputRows != null) {
      normed = normed.squeeze(0).get(scope.create(outputRows)).expandDims(0); // [1, selected, D]
    }
    NDArray logits = lmHead.apply(normed, adapters).squeeze(0);
    if (logits.getDataType() != DataType.FLOAT32) {
      logits = logits.toType(DataType.FLOAT32, false);
    }
    return logits;
  }

  /** The chunks of one forward call, where each starts and the masks each has built. */
  private record Batch(
      NDManager scope,
      List<Chunk> chunks,
      long[] past,
      int[] n,
      List<Map<Integer, NDArray>> masks) {}

  /**
   * Forward and backward of one training sequence from position 0 with layer-by-layer recomputation
   * (gradient checkpointing): the decoder layers run once without a graph, keeping only each
   * layer's input; then the output layer and {@code loss} run with a graph and backward; then each
   * layer again, last to first, with a graph, back-propagating the gradient of its output. Only one
   * layer's graph is alive at a time, and with it only that layer's dequantized 4-bit weights
   * (bitsandbytes likewise dequantizes again in backward). Gradients accumulate in the adapters'
   * parameters as one backward of the whole graph leaves them. Call it with a gradient collector
   * open.
   *
   * @param rows as {@link #logitsFromStart(NDManager, long[], Adapters, boolean[])}
   * @param loss the scalar loss of the logits [rows set, vocab], built in the logits' manager
   * @return the loss
   */
  public float backwardByLayer(
      NDManager scope,
      long[] tokens,
      Adapters adapters,
      boolean[] rows,
      java.util.function.Function<NDArray, NDArray> loss) {
    int[] n = {tokens.length};
    long[] past = {0};
    NDArray[] inputs = new NDArray[layers.length + 1]; // inputs[i]: layer i's; the last: the head's
    NDArray[] cosSin = rotary(scope, past, n, n[0]);
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (KvCache cache = trainingCache(n[0])) {
      Batch batch = singleSequence(scope, tokens, cache, adapters);
      NDArray ids = scope.create(tokens).expandDims(0).toDevice(manager.getDevice(), false);
      ids.attach(scope);
      inputs[0] = ids.getNDArrayInternal().embedding(ids, embedding, SparseFormat.DENSE).head();
      for (int i = 0; i < layers.length; i++) {
        // Temporaries go to the layer's scope (they are made in their first operand's manager).
        try (NDManager layerScope = scope.newSubManager()) {
          inputs[i].attach(layerScope);
          inputs[i + 1] =
              decoderLayer(
                  layerScope, i, inputs[i], cosSin, batch, adapters, adapters, n, n, false);
          inputs[i].attach(scope);
          inputs[i + 1].attach(scope);
        }
      }
    } finally {
      JniUtils.setGradMode(gradMode);
    }
    NDArray gradient;
    float value;
    try (NDManager headScope = scope.newSubManager()) {
      NDArray x = inputs[layers.length];
      x.attach(headScope);
      x.setRequiresGradient(true);
      NDArray l = loss.apply(outputLayer(headScope, x, adapters, rows));
      value = l.getFloat();
      JniUtils.backward((PtNDArray) l, (PtNDArray) headScope.ones(l.getShape()), false, false);
      gradient = x.getGradient();
      gradient.attach(scope);
    }
    for (int i = layers.length - 1; i >= 0; i--) {
      try (NDManager layerScope = scope.newSubManager();
          KvCache cache = trainingCache(n[0])) {
        Batch batch = singleSequence(layerScope, tokens, cache, adapters);
        NDArray x = inputs[i];
        x.attach(layerScope);
        // Layer 0's input needs no gradient, but with it every layer's output has a graph, also
        // where no adapter targets the layer.
        x.setRequiresGradient(true);
        NDArray out =
            decoderLayer(layerScope, i, x, cosSin, batch, adapters, adapters, n, n, false);
        JniUtils.backward((PtNDArray) out, (PtNDArray) gradient, false, false);
        gradient.close();
        if (i > 0) {
          gradient = x.getGradient();
          gradient.attach(scope);
        }
      }
    }
    return value;
  }

  /** Whether the decoder layers' projections are held in 4 bits. */
  public boolean fourBitBase() {
    return layers.length > 0 && layers[0].qkv().fourBit();
  }

  /** An empty cache that keeps the graph (training), with room for {@code positions}. */
  private KvCache trainingCache(int positions) {
    KvCache cache =
        new KvCache(manager, config.numLayers(), kvShape(), dataType, KvBudget.unlimited(), true);
    if (!cache.reserve(positions)) {
      cache.close();
      throw new IllegalStateException("no room for " + positions + " positions");
    }
    return cache;
  }

  /** One sequence from position 0 over {@code cache}, as {@link #forward} lays a batch out. */
  private static Batch singleSequence(
      NDManager scope, long[] tokens, KvCache cache, Adapters adapters) {
    List<Map<Integer, NDArray>> masks = new ArrayList<>(List.of(new HashMap<>()));
    return new Batch(
        scope,
        List.of(new Chunk(tokens, cache, adapters, false)),
        new long[] {0},
        new int[] {tokens.length},
        masks);
  }

  /**
   * The adapters for rows taken {@code rows[i]} from chunk i: the chunks' own when they all share
   * them (one sequence, or a batch of one adapter), else a per-row combination.
   */
  private Adapters rowAdapters(NDManager scope, List<Chunk> chunks, int[] rows) {
    Adapters first = chunks.get(0).adapters();
    boolean same = true;
    for (Chunk c : chunks) {
      same &= c.adapters() == first || (c.adapters().isEmpty() && first.isEmpty());
    }
    if (same) {
      return first;
    }
    List<Adapters> each = new ArrayList<>(chunks.size());
    for (Chunk c : chunks) {
      each.add(c.adapters());
    }
    return Adapters.perRow(each, rows, scope, dataType);
  }

  /**
   * The rows read of x [1, T, D], chunk after chunk: [1, read rows, D]. Consecutive rows are taken
   * as one view, so a batch of decoding sequences (every row read) takes none and a prefill among
   * them splits it into a few.
   */
  private static NDArray readRows(NDArray x, int[] n, int[] read) {
    if (n.length == 1) {
      return lastRows(x, read[0]);
    }
    if (Arrays.equals(n, read)) {
      return x;
    }
    NDList ranges = new NDList();
    long from = -1;
    long to = -1;
    long at = 0;
    for (int i = 0; i < n.length; i++) {
      long start = at + n[i] - read[i];
      if (start != to) {
        if (to > from) {
          ranges.add(x.get(new NDIndex(":, {}:{}", from, to)));
        }
        from = start;
      }
      to = at + n[i];
      at += n[i];
    }
    ranges.add(x.get(new NDIndex(":, {}:{}", from, to)));
    return ranges.size() == 1 ? ranges.get(0) : NDArrays.concat(ranges, 1);
  }

  /**
   * cos and sign-folded sin for each chunk's positions past .. past+n-1, chunk after chunk, each
   * [T, 1, rotaryDim] (broadcast over heads). HF's {@code rotate_half(x) * sin} is {@code
   * concat(-x2, x1) * concat(s, s)}; we use the equal {@code concat(x2, x1) * concat(-s, s)}, which
   * needs no negation per layer.
   */
  private NDArray[] rotary(NDManager scope, long[] past, int[] n, int total) {
    float[] freqs = null;
    int half = 0;
    for (int i = 0, at = 0; i < n.length; at += n[i], i++) {
      // Per chunk: LongRoPE picks its factors from the sequence's largest position.
      float[] invFreq = config.rope().inverseFrequencies(past[i] + n[i] - 1);
      if (freqs == null) {
        half = invFreq.length;
        freqs = new float[total * half];
      }
      for (int t = 0; t < n[i]; t++) {
        float pos = past[i] + t; // positions * inverse frequencies in fp32, as HF
        for (int j = 0; j < half; j++) {
          freqs[(at + t) * half + j] = pos * invFreq[j];
        }
      }
    }
    NDArray f = scope.create(freqs, new Shape(total, 1, half)); // [T, 1, rot/2]
    NDArray c = f.cos();
    NDArray s = f.sin();
    float scaling = config.rope().attentionScaling();
    if (scaling != 1f) {
      c = c.mul(scaling);
      s = s.mul(scaling);
    }
    NDArray cos = c.concat(c, -1);
    NDArray sin = s.neg().concat(s, -1);
    if (dataType != DataType.FLOAT32) {
      cos = cos.toType(dataType, false);
      sin = sin.toType(dataType, false);
    }
    return new NDArray[] {
      cos.toDevice(manager.getDevice(), false), sin.toDevice(manager.getDevice(), false)
    };
  }

  /**
   * Additive mask [n, past+n]: query t (position past+t) sees keys at positions up to its own and,
   * with a sliding window, fewer than {@code window} positions back. Null when nothing is masked.
   * Built in native memory: its size grows with the context.
   */
  private NDArray attentionMask(NDManager scope, long past, int n, int window) {
    long total = past + n;
    boolean needed = n > 1 || (window > 0 && total > window);
    if (!needed) {
      return null;
    }
    int from = Math.toIntExact(past);
    NDArray q = scope.arange(from, from + n, 1, DataType.INT64).reshape(n, 1);
    NDArray k = scope.arange(0, from + n, 1, DataType.INT64).reshape(1, total);
    NDArray visible = k.lte(q);
    if (window > 0) {
      visible = visible.logicalAnd(q.sub(k).lt(window));
    }
    // log(1) = 0 where visible, log(0) = -inf elsewhere.
    return visible.toType(dataType, false).log().toDevice(manager.getDevice(), false);
  }

  /**
   * Self-attention of h [1, T, D] (the rows of every chunk) over each chunk's cache plus its new
   * positions (whose keys and values it appends); returns o_proj's output for the last {@code
   * rows[i]} positions of each chunk, [1, sum of rows, D].
   */
  private NDArray attention(
      NDManager scope,
      Layer layer,
      int index,
      NDArray h,
      NDArray[] cosSin,
      Batch batch,
      Adapters adapters,
      int[] rows,
      Adapters outputAdapters) {
    int heads = config.numHeads();
    int kvHeads = config.numKvHeads();
    int hd = config.headDim();
    long total = h.getShape().get(1);
    // q and k as one block, v; RoPE on q and k together, before moving heads in front.
    NDList qkAndV = layer.qkv().applyBlocks(h, adapters);
    NDArray qk = qkAndV.get(0).reshape(1, total, heads + kvHeads, hd);
    NDList qAndK = applyRotary(qk, cosSin).split(new long[] {heads}, 2);
    NDArray q = qAndK.get(0).transpose(0, 2, 1, 3); // [1, H, T, hd]
    NDArray k = qAndK.get(1).transpose(0, 2, 1, 3); // [1, KV, T, hd]
    NDArray v = qkAndV.get(1).reshape(1, total, kvHeads, hd).transpose(0, 2, 1, 3); // [1,KV,T,hd]
    int b = batch.chunks().size();
    NDList outs = new NDList(b);
    long start = 0;
    for (int i = 0; i < b; i++) {
      long n = batch.n()[i];
      NDArray qi = q;
      NDArray ki = k;
      NDArray vi = v;
      if (b > 1) {
        NDIndex mine = new NDIndex(":, :, {}:{}", start, start + n);
        qi = q.get(mine);
        ki = k.get(mine);
        vi = v.get(mine);
      }
      NDArray[] kv = batch.chunks().get(i).cache().append(index, ki, vi, scope);
      long keys = kv[0].getShape().get(2);
      NDArray keysT = kv[0].transpose(0, 1, 3, 2); // [1, KV, hd, keys]
      int groups = config.kvGroups();
      // Grouped-query attention without copying K/V: the query heads that share a KV head are
      // stacked along the sequence axis. [1, KV, groups * n, hd]
      NDArray grouped = qi.reshape(1, kvHeads, groups * n, hd);
      NDArray scores = grouped.matMul(keysT).mul(attentionScale);
      long past = batch.past()[i];
      int chunkN = batch.n()[i];
      NDArray mask =
          batch
              .masks()
              .get(i)
              .computeIfAbsent(
                  layer.slidingWindow(), w -> attentionMask(batch.scope(), past, chunkN, w));
      if (mask != null) {
        scores = scores.reshape(1, kvHeads, groups, n, keys).add(mask);
        scores = scores.reshape(1, kvHeads, groups * n, keys);
      }
      NDArray probs;
      if (scores.getDataType() == DataType.FLOAT32) {
        probs = scores.softmax(-1);
      } else {
        probs = scores.toType(DataType.FLOAT32, false).softmax(-1).toType(dataType, false);
      }
      NDArray out = probs.matMul(kv[1]); // [1, KV, groups * n, hd]
      out = out.reshape(1, heads, n, hd).transpose(0, 2, 1, 3).reshape(1, n, heads * hd);
      outs.add(lastRows(out, rows[i]));
      start += n;
    }
    NDArray attended = b == 1 ? outs.get(0) : NDArrays.concat(outs, 1);
    return layer.o().apply(attended, outputAdapters);
  }

  /** The last {@code rows} positions of x [1, n, ..] (a view; x itself when that is all of it). */
  private static NDArray lastRows(NDArray x, int rows) {
    long n = x.getShape().get(1);
    return rows == n ? x : x.get(":, " + (n - rows) + ":, :");
  }

  /** x [1, n, heads, hd] with cos / sign-folded sin [n, 1, rot]: HF's apply_rotary_pos_emb. */
  private NDArray applyRotary(NDArray x, NDArray[] cosSin) {
    int rot = config.rotaryDim();
    int hd = config.headDim();
    NDList parts = x.split(rot == hd ? new long[] {rot / 2} : new long[] {rot / 2, rot}, 3);
    NDArray rotated = rot == hd ? x : x.get("..., :" + rot);
    NDArray swapped = parts.get(1).concat(parts.get(0), -1); // concat(x2, x1)
    NDArray out = rotated.mul(cosSin[0]).add(swapped.mul(cosSin[1]));
    return rot == hd ? out : out.concat(parts.get(2), -1);
  }

  private NDArray mlp(Layer layer, NDArray h, Adapters adapters) {
    NDList gateAndUp = layer.gateUp().applyBlocks(h, adapters); // [1, n, I] x 2
    NDArray gate = gateAndUp.get(0);
    NDArray act = gate.mul(Activation.sigmoid(gate)).mul(gateAndUp.get(1)); // SiLU(gate) * up
    return layer.down().apply(act, adapters);
  }

  /** RMSNorm in fp32, as HF does, then scaled by the weight in the model's type. */
  private NDArray rmsNorm(NDArray x, NDArray weight) {
    NDArray x32 = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
    NDArray variance = x32.square().mean(new int[] {-1}, true);
    NDArray normed = x32.div(variance.add(normEpsilon).sqrt());
    if (normed.getDataType() != dataType) {
      normed = normed.toType(dataType, false);
    }
    return normed.mul(weight);
  }

  @Override
  public void close() {
    manager.close();
  }

  /** Helper for tests and tools: all-position logits of one prompt as a [n][vocab] array. */
  public float[][] logits(long[] tokens, Adapters adapters) {
    try (NDManager scope = manager.newSubManager();
        KvCache cache = newCache()) {
      NDArray logits = forward(scope, tokens, cache, adapters, false);
      float[] flat = logits.toDevice(Device.cpu(), false).toFloatArray();
      int vocab = config.vocabSize();
      float[][] out = new float[tokens.length][vocab];
      for (int t = 0; t < tokens.length; t++) {
        System.arraycopy(flat, t * vocab, out[t], 0, vocab);
      }
      return out;
    }
  }
}
