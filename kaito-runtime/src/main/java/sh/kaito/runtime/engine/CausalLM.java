package sh.kaito.runtime.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.model.ModelConfig;
import sh.kaito.runtime.model.ModelFormatException;
import sh.kaito.runtime.model.WeightStore;

/**
 * A decoder-only causal language model (Llama, Mistral, Qwen2, Phi-3): configuration plus weights,
 * immutable after loading and safe to share between requests. Per-sequence state lives in a {@link
 * KvCache}; every call takes the {@link NDManager} its temporaries belong to.
 */
public final class CausalLM implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(CausalLM.class);

  /** The projections of one decoder layer. Phi-3 stores q/k/v and gate/up fused. */
  private record Layer(
      NDArray inputNorm,
      NDArray postAttentionNorm,
      Linear qkv,
      Linear q,
      Linear k,
      Linear v,
      Linear o,
      Linear gateUp,
      Linear gate,
      Linear up,
      Linear down,
      int slidingWindow) {}

  private final ModelConfig config;
  private final NDManager manager;
  private final DataType dataType;
  private final NDArray embedding;
  private final Layer[] layers;
  private final NDArray finalNorm;
  private final Linear lmHead;

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
    Devices.requireAvailable(device);
    ModelConfig config = ModelConfig.load(dir);
    WeightStore weights = WeightStore.open(dir);
    DataType dataType = device.isGpu() ? DataType.FLOAT16 : DataType.FLOAT32;
    NDManager manager = NDManager.newBaseManager(device, "PyTorch");
    try {
      Loader l = new Loader(weights, manager, dataType, device, placement);
      Layer[] layers = new Layer[config.numLayers()];
      boolean fused = config.architecture().fusedProjections();
      for (int i = 0; i < layers.length; i++) {
        String p = "model.layers." + i + ".";
        layers[i] =
            new Layer(
                l.tensor(p + "input_layernorm.weight"),
                l.tensor(p + "post_attention_layernorm.weight"),
                fused ? l.linear(p + "self_attn.qkv_proj", false) : null,
                fused ? null : l.linear(p + "self_attn.q_proj", config.attentionBias()),
                fused ? null : l.linear(p + "self_attn.k_proj", config.attentionBias()),
                fused ? null : l.linear(p + "self_attn.v_proj", config.attentionBias()),
                l.linear(p + "self_attn.o_proj", config.outputBias()),
                fused ? l.linear(p + "mlp.gate_up_proj", false) : null,
                fused ? null : l.linear(p + "mlp.gate_proj", config.mlpBias()),
                fused ? null : l.linear(p + "mlp.up_proj", config.mlpBias()),
                l.linear(p + "mlp.down_proj", config.mlpBias()),
                config.slidingWindowPerLayer()[i]);
      }
      NDArray embedding = l.tensor("model.embed_tokens.weight");
      Linear lmHead =
          config.tieWordEmbeddings() || !weights.contains("lm_head.weight")
              ? new Linear("lm_head", embedding, null)
              : l.linear("lm_head", false);
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
      return model;
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** Loads tensors onto the model's device, in the model's float type. */
  private record Loader(
      WeightStore weights,
      NDManager manager,
      DataType dataType,
      Device device,
      WeightPlacement placement) {
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

    Linear linear(String module, boolean bias) throws IOException {
      return new Linear(module, tensor(module + ".weight"), bias ? tensor(module + ".bias") : null);
    }
  }

  public ModelConfig config() {
    return config;
  }

  /** The manager weights live in; adapters load into sub-managers of it. */
  public NDManager manager() {
    return manager;
  }

  public DataType dataType() {
    return dataType;
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
    Map<Integer, NDArray> masks = new HashMap<>();
    for (int i = 0; i < layers.length; i++) {
      Layer layer = layers[i];
      NDArray mask =
          masks.computeIfAbsent(layer.slidingWindow(), w -> attentionMask(scope, past, n, w));
      NDArray h = rmsNorm(x, layer.inputNorm());
      x = x.add(attention(scope, layer, i, h, cosSin, mask, cache, adapters));
      h = rmsNorm(x, layer.postAttentionNorm());
      x = x.add(mlp(layer, h, adapters));
    }
    cache.advance(tokens);
    if (lastOnly && n > 1) {
      x = x.get(":, " + (n - 1) + ":, :");
    } else if (fresh < n) {
      x = x.get(":, " + (n - fresh) + ":, :");
    }
    NDArray logits = lmHead.apply(rmsNorm(x, finalNorm), adapters).squeeze(0);
    if (logits.getDataType() != DataType.FLOAT32) {
      logits = logits.toType(DataType.FLOAT32, false);
    }
    return logits;
  }

  /** cos and sin for positions past .. past+n-1, each [n, rotaryDim]. */
  private NDArray[] rotary(NDManager scope, long past, int n) {
    float[] invFreq = config.rope().inverseFrequencies(past + n - 1);
    float[] pos = new float[n];
    for (int t = 0; t < n; t++) {
      pos[t] = past + t;
    }
    NDArray freqs =
        scope.create(pos).expandDims(1).mul(scope.create(invFreq).expandDims(0)); // [n, rot/2]
    NDArray emb = freqs.concat(freqs, -1);
    NDArray cos = emb.cos();
    NDArray sin = emb.sin();
    float scaling = config.rope().attentionScaling();
    if (scaling != 1f) {
      cos = cos.mul(scaling);
      sin = sin.mul(scaling);
    }
    return new NDArray[] {
      cos.toType(dataType, false).toDevice(manager.getDevice(), false),
      sin.toType(dataType, false).toDevice(manager.getDevice(), false)
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

  private NDArray attention(
      NDManager scope,
      Layer layer,
      int index,
      NDArray h,
      NDArray[] cosSin,
      NDArray mask,
      KvCache cache,
      Adapters adapters) {
    int heads = config.numHeads();
    int kvHeads = config.numKvHeads();
    int hd = config.headDim();
    long n = h.getShape().get(1);
    NDArray q;
    NDArray k;
    NDArray v;
    if (layer.qkv() != null) {
      NDArray qkv = layer.qkv().apply(h, adapters); // [1, n, (H + 2 KV) * hd]
      q = qkv.get("..., :" + heads * hd);
      k = qkv.get("..., " + heads * hd + ":" + (heads + kvHeads) * hd);
      v = qkv.get("..., " + (heads + kvHeads) * hd + ":");
    } else {
      q = layer.q().apply(h, adapters);
      k = layer.k().apply(h, adapters);
      v = layer.v().apply(h, adapters);
    }
    q = q.reshape(1, n, heads, hd).transpose(0, 2, 1, 3); // [1, H, n, hd]
    k = k.reshape(1, n, kvHeads, hd).transpose(0, 2, 1, 3); // [1, KV, n, hd]
    v = v.reshape(1, n, kvHeads, hd).transpose(0, 2, 1, 3);
    q = applyRotary(q, cosSin);
    k = applyRotary(k, cosSin);
    NDArray[] kv = cache.append(index, k, v);
    long total = kv[0].getShape().get(2);
    NDArray keysT = kv[0].transpose(0, 1, 3, 2); // [1, KV, hd, total]
    keysT.attach(scope);
    int groups = config.kvGroups();
    // Grouped-query attention without copying K/V: the query heads that share a KV head are
    // stacked along the sequence axis. [1, KV, groups * n, hd]
    NDArray grouped = q.reshape(1, kvHeads, groups * n, hd);
    NDArray scores = grouped.matMul(keysT).mul((float) (1.0 / Math.sqrt(hd)));
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
    return layer.o().apply(out, adapters);
  }

  private NDArray applyRotary(NDArray x, NDArray[] cosSin) {
    int rot = config.rotaryDim();
    int hd = config.headDim();
    NDArray rotated = rot == hd ? x : x.get("..., :" + rot);
    NDArray half1 = rotated.get("..., :" + rot / 2);
    NDArray half2 = rotated.get("..., " + rot / 2 + ":");
    NDArray rotateHalf = half2.neg().concat(half1, -1);
    NDArray out = rotated.mul(cosSin[0]).add(rotateHalf.mul(cosSin[1]));
    return rot == hd ? out : out.concat(x.get("..., " + rot + ":"), -1);
  }

  private NDArray mlp(Layer layer, NDArray h, Adapters adapters) {
    NDArray gate;
    NDArray up;
    if (layer.gateUp() != null) {
      NDArray gu = layer.gateUp().apply(h, adapters);
      long inter = config.intermediateSize();
      gate = gu.get("..., :" + inter);
      up = gu.get("..., " + inter + ":");
    } else {
      gate = layer.gate().apply(h, adapters);
      up = layer.up().apply(h, adapters);
    }
    NDArray act = gate.mul(Activation.sigmoid(gate)).mul(up); // SiLU(gate) * up
    return layer.down().apply(act, adapters);
  }

  /** RMSNorm in fp32, as HF does, then scaled by the weight in the model's type. */
  private NDArray rmsNorm(NDArray x, NDArray weight) {
    NDArray x32 = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
    NDArray variance = x32.square().mean(new int[] {-1}, true);
    NDArray normed = x32.div(variance.add((float) config.rmsNormEps()).sqrt());
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
