package sh.kaito.runtime.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
    try (KvCache cache = new KvCache(manager, config.numLayers(), true)) {
      return forward(scope, tokens, cache, adapters, false, rows);
    }
  }

  /** A fresh, empty cache for one sequence. */
  public KvCache newCache() {
    return new KvCache(manager, config.numLayers());
  }

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
    return forward(scope, tokens, cache, adapters, lastOnly, null);
  }

  /**
   * As {@link #forward(NDManager, long[], KvCache, Adapters, boolean)}; when {@code rows} is not
   * null (a boolean per token, with lastOnly false) only those positions go through the output
   * layer: [rows set, vocab].
   */
  private NDArray forward(
      NDManager scope,
      long[] tokens,
      KvCache cache,
      Adapters adapters,
      boolean lastOnly,
      boolean[] outputRows) {
    if (tokens.length == 0) {
      throw new IllegalArgumentException("no tokens to run");
    }
    for (long t : tokens) {
      if (t < 0 || t >= config.vocabSize()) {
        throw new IllegalArgumentException(
            "token id " + t + " is outside the vocabulary [0, " + config.vocabSize() + ")");
      }
    }
    int fresh = tokens.length;
    if (config.rope().invalidatesCache(cache.length(), cache.length() + tokens.length)) {
      // As HF's Phi-3: keys rotated with the short LongRoPE factors are dropped once the sequence
      // passes the original context, and the whole sequence is run with the long factors.
      long[] all = new long[(int) cache.length() + tokens.length];
      System.arraycopy(cache.tokens(), 0, all, 0, (int) cache.length());
      System.arraycopy(tokens, 0, all, (int) cache.length(), tokens.length);
      cache.clear();
      tokens = all;
    }
    int n = tokens.length;
    long past = cache.length();
    NDArray ids = scope.create(tokens).expandDims(0).toDevice(manager.getDevice(), false); // [1, n]
    ids.attach(scope);
    NDArray x =
        ids.getNDArrayInternal().embedding(ids, embedding, SparseFormat.DENSE).head(); // [1,n,D]
    NDArray[] cosSin = rotary(scope, past, n);
    // The positions whose logits the caller reads. Every layer needs all n rows for the keys and
    // values of the next; after the last layer's attention only these rows are read, so its o_proj
    // and MLP run on them alone (a prompt's prefill: one row instead of n).
    int read = lastOnly ? 1 : fresh;
    Map<Integer, NDArray> masks = new HashMap<>();
    for (int i = 0; i < layers.length; i++) {
      Layer layer = layers[i];
      NDArray mask =
          masks.computeIfAbsent(layer.slidingWindow(), w -> attentionMask(scope, past, n, w));
      int rows = i == layers.length - 1 ? read : n;
      // Each layer's temporaries (and its input) are freed when the layer ends, so the next layer
      // reuses memory that is mapped and in cache instead of touching new pages: a 128-token
      // prefill runs ~20% faster than with all temporaries held until the end of the call.
      try (NDManager layerScope = scope.newSubManager()) {
        x.attach(layerScope);
        x = decoderLayer(layerScope, i, x, cosSin, mask, cache, adapters, rows);
        x.attach(scope);
      }
    }
    cache.advance(tokens);
    return outputLayer(scope, x, adapters, outputRows);
  }

  /** Decoder layer {@code index} on x [1, n, D]: the output of its last {@code rows} positions. */
  private NDArray decoderLayer(
      NDManager scope,
      int index,
      NDArray x,
      NDArray[] cosSin,
      NDArray mask,
      KvCache cache,
      Adapters adapters,
      int rows) {
    Layer layer = layers[index];
    NDArray h = rmsNorm(x, layer.inputNorm());
    NDArray attended = attention(scope, layer, index, h, cosSin, mask, cache, adapters, rows);
    x = lastRows(x, rows).add(attended);
    h = rmsNorm(x, layer.postAttentionNorm());
    return x.add(mlp(layer, h, adapters));
  }

  /** Final norm and lm_head on x [1, n, D] (only {@code outputRows}, when set): fp32 logits. */
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
    int n = tokens.length;
    NDArray[] inputs = new NDArray[layers.length + 1]; // inputs[i]: layer i's; the last: the head's
    NDArray[] cosSin;
    Map<Integer, NDArray> masks = new HashMap<>();
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (KvCache cache = new KvCache(manager, config.numLayers(), true)) {
      NDArray ids = scope.create(tokens).expandDims(0).toDevice(manager.getDevice(), false);
      ids.attach(scope);
      inputs[0] = ids.getNDArrayInternal().embedding(ids, embedding, SparseFormat.DENSE).head();
      cosSin = rotary(scope, 0, n);
      for (int i = 0; i < layers.length; i++) {
        NDArray mask =
            masks.computeIfAbsent(layers[i].slidingWindow(), w -> attentionMask(scope, 0, n, w));
        // Temporaries go to the layer's scope (they are made in their first operand's manager).
        try (NDManager layerScope = scope.newSubManager()) {
          inputs[i].attach(layerScope);
          inputs[i + 1] = decoderLayer(layerScope, i, inputs[i], cosSin, mask, cache, adapters, n);
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
      NDArray mask = masks.get(layers[i].slidingWindow());
      try (NDManager layerScope = scope.newSubManager();
          KvCache cache = new KvCache(manager, config.numLayers(), true)) {
        NDArray x = inputs[i];
        x.attach(layerScope);
        // Layer 0's input needs no gradient, but with it every layer's output has a graph, also
        // where no adapter targets the layer.
        x.setRequiresGradient(true);
        NDArray out = decoderLayer(layerScope, i, x, cosSin, mask, cache, adapters, n);
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

  /**
   * cos and sign-folded sin for positions past .. past+n-1, each [n, 1, rotaryDim] (broadcast over
   * heads). HF's {@code rotate_half(x) * sin} is {@code concat(-x2, x1) * concat(s, s)}; we use the
   * equal {@code concat(x2, x1) * concat(-s, s)}, which needs no negation per layer.
   */
  private NDArray[] rotary(NDManager scope, long past, int n) {
    float[] invFreq = config.rope().inverseFrequencies(past + n - 1);
    float[] pos = new float[n];
    for (int t = 0; t < n; t++) {
      pos[t] = past + t;
    }
    NDArray freqs =
        scope
            .create(pos, new Shape(n, 1, 1))
            .mul(scope.create(invFreq, new Shape(1, 1, invFreq.length))); // [n, 1, rot/2]
    NDArray c = freqs.cos();
    NDArray s = freqs.sin();
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
   */
  private NDArray attentionMask(NDManager scope, long past, int n, int window) {
    long total = past + n;
    boolean needed = n > 1 || (window > 0 && total > window);
    if (!needed) {
      return null;
    }
    float[] mask = new float[Math.toIntExact(n * total)];
    for (int t = 0; t < n; t++) {
      long q = past + t;
      for (long j = 0; j < total; j++) {
        boolean visible = j <= q && (window <= 0 || q - j < window);
        mask[(int) (t * total + j)] = visible ? 0f : Float.NEGATIVE_INFINITY;
      }
    }
    return scope
        .create(mask, new Shape(n, total))
        .toType(dataType, false)
        .toDevice(manager.getDevice(), false);
  }

  /**
   * Self-attention of h [1, n, D] over the cache plus these n positions (whose keys and values it
   * appends); returns o_proj's output for the last {@code rows} positions, [1, rows, D].
   */
  private NDArray attention(
      NDManager scope,
      Layer layer,
      int index,
      NDArray h,
      NDArray[] cosSin,
      NDArray mask,
      KvCache cache,
      Adapters adapters,
      int rows) {
    int heads = config.numHeads();
    int kvHeads = config.numKvHeads();
    int hd = config.headDim();
    long n = h.getShape().get(1);
    // q and k as one block, v; RoPE on q and k together, before moving heads in front.
    NDList qkAndV = layer.qkv().applyBlocks(h, adapters);
    NDArray qk = qkAndV.get(0).reshape(1, n, heads + kvHeads, hd);
    NDList qAndK = applyRotary(qk, cosSin).split(new long[] {heads}, 2);
    NDArray q = qAndK.get(0).transpose(0, 2, 1, 3); // [1, H, n, hd]
    NDArray k = qAndK.get(1).transpose(0, 2, 1, 3); // [1, KV, n, hd]
    NDArray v = qkAndV.get(1).reshape(1, n, kvHeads, hd).transpose(0, 2, 1, 3); // [1, KV, n, hd]
    NDArray[] kv = cache.append(index, k, v);
    long total = kv[0].getShape().get(2);
    NDArray keysT = kv[0].transpose(0, 1, 3, 2); // [1, KV, hd, total]
    keysT.attach(scope);
    int groups = config.kvGroups();
    // Grouped-query attention without copying K/V: the query heads that share a KV head are
    // stacked along the sequence axis. [1, KV, groups * n, hd]
    NDArray grouped = q.reshape(1, kvHeads, groups * n, hd);
    NDArray scores = grouped.matMul(keysT).mul(attentionScale);
    if (mask != null) {
      scores = scores.reshape(1, kvHeads, groups, n, total).add(mask);
      scores = scores.reshape(1, kvHeads, groups * n, total);
    }
    NDArray probs;
    if (scores.getDataType() == DataType.FLOAT32) {
      probs = scores.softmax(-1);
    } else {
      probs = scores.toType(DataType.FLOAT32, false).softmax(-1).toType(dataType, false);
    }
    NDArray out = probs.matMul(kv[1]); // [1, KV, groups * n, hd]
    out = out.reshape(1, heads, n, hd).transpose(0, 2, 1, 3).reshape(1, n, heads * hd);
    return layer.o().apply(lastRows(out, rows), adapters);
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
