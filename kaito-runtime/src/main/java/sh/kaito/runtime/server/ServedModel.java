package sh.kaito.runtime.server;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.engine.KvBudget;
import sh.kaito.runtime.generate.BatchEngine;
import sh.kaito.runtime.generate.GenerationDefaults;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.Sequence;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.lora.LoraAdapter;
import sh.kaito.runtime.tokenizer.TextTokenizer;

/**
 * A loaded model as the server uses it: weights, tokenizer, the model's generation defaults, its
 * context length and the adapters it serves. Owns them all and closes them.
 */
public final class ServedModel implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ServedModel.class);

  /** An adapter served under {@code name}, applied with {@code strength}. */
  public record ServedAdapter(String name, Path dir, LoraAdapter adapter, float strength) {}

  private final String name;
  private final Path dir;
  private final TextTokenizer tokenizer;
  private final SamplingParams defaults;
  private final int contextLength;
  private final int vocabSize;
  private final Map<String, ServedAdapter> adapters;
  private final GenerationEngine engine;
  private final List<AutoCloseable> owned;

  ServedModel(
      String name,
      Path dir,
      TextTokenizer tokenizer,
      SamplingParams defaults,
      int contextLength,
      int vocabSize,
      Map<String, ServedAdapter> adapters,
      GenerationEngine engine,
      List<AutoCloseable> owned) {
    this.name = name;
    this.dir = dir;
    this.tokenizer = tokenizer;
    this.defaults = defaults;
    this.contextLength = contextLength;
    this.vocabSize = vocabSize;
    this.adapters = adapters;
    this.engine = engine;
    this.owned = owned;
  }

  /**
   * How much KV-cache memory the model's sequences share and how long one may be.
   *
   * @param kvCacheBytes the KV-cache budget of all sequences together
   * @param maxModelLen the most tokens (prompt + output) of one sequence; 0: what the budget holds,
   *     at most the model's context
   */
  public record Limits(long kvCacheBytes, int maxModelLen) {

    /** As vLLM on CPU ({@code VLLM_CPU_KVCACHE_SPACE}): 4 GiB. */
    public static final long DEFAULT_KV_CACHE_BYTES = 4L << 30;

    public static Limits defaults() {
      return new Limits(DEFAULT_KV_CACHE_BYTES, 0);
    }

    public Limits {
      if (kvCacheBytes < 1) {
        throw new IllegalArgumentException("the KV-cache budget must be > 0 bytes");
      }
      if (maxModelLen < 0) {
        throw new IllegalArgumentException("max model length must be >= 0, got " + maxModelLen);
      }
    }
  }

  /** Loads the model, tokenizer and adapters of {@code spec} onto {@code device}. */
  public static ServedModel load(ModelSpec spec, Device device) throws IOException {
    return load(spec, device, Limits.defaults());
  }

  /** As {@link #load(ModelSpec, Device)} within {@code limits}. */
  public static ServedModel load(ModelSpec spec, Device device, Limits limits) throws IOException {
    long start = System.nanoTime();
    List<AutoCloseable> owned = new ArrayList<>();
    try {
      CausalLM model = CausalLM.load(spec.weights(), device);
      owned.add(model);
      TextTokenizer tokenizer = TextTokenizer.load(spec.weights());
      owned.add(0, tokenizer);
      Map<String, ServedAdapter> adapters = new LinkedHashMap<>();
      for (ModelSpec.AdapterSpec a : spec.adapters()) {
        LoraAdapter adapter = LoraAdapter.load(a.dir(), model.manager(), model.dataType());
        owned.add(0, adapter);
        adapters.put(a.name(), new ServedAdapter(a.name(), a.dir(), adapter, a.strength()));
        LOG.info(
            "adapter loaded name={} dir={} strength={} modules={}",
            a.name(),
            a.dir(),
            a.strength(),
            adapter.modules().size());
      }
      SamplingParams defaults =
          GenerationDefaults.load(spec.weights(), model.config().eosTokenIds()).build();
      KvBudget budget = KvBudget.ofBytes(model, limits.kvCacheBytes());
      int context = maxModelLen(contextLength(spec.weights()), budget, limits);
      GenerationEngine engine =
          new BatchGenerationEngine(
              new BatchEngine(model), budget, ids -> tokenizer.decode(ids, true));
      ServedModel served =
          new ServedModel(
              spec.servedName(),
              spec.weights(),
              tokenizer,
              defaults,
              context,
              model.config().vocabSize(),
              Collections.unmodifiableMap(adapters),
              engine,
              List.copyOf(owned));
      LOG.info(
          "model ready name={} dir={} max_model_len={} kv_cache_tokens={} kv_cache_bytes={}"
              + " adapters={} seconds={}",
          spec.servedName(),
          spec.weights(),
          context,
          budget.slots(),
          budget.slots() * budget.bytesPerSlot(),
          adapters.keySet(),
          String.format("%.1f", (System.nanoTime() - start) / 1e9));
      return served;
    } catch (IOException | RuntimeException e) {
      closeAll(owned);
      throw e;
    }
  }

  /**
   * The longest sequence served: {@code --max-model-len}, else what the KV budget holds, never more
   * than the model's context and never more than the budget (vLLM refuses both at start).
   */
  static int maxModelLen(int context, KvBudget budget, Limits limits) {
    int requested = limits.maxModelLen();
    if (requested > context) {
      throw new IllegalArgumentException(
          "--max-model-len "
              + requested
              + " is more than the model's context ("
              + context
              + " tokens, max_position_embeddings in config.json)");
    }
    if (requested > budget.slots()) {
      throw new IllegalArgumentException(
          "--max-model-len "
              + requested
              + " needs "
              + requested * budget.bytesPerSlot()
              + " bytes of KV cache, but the KV-cache budget holds "
              + budget.slots()
              + " tokens; raise --kv-cache-memory or lower --max-model-len");
    }
    long fits = Math.min(context, budget.slots());
    return requested > 0 ? requested : (int) fits;
  }

  /** {@link GenerationEngine} over the loaded model: {@link BatchEngine} with one budget. */
  private record BatchGenerationEngine(
      BatchEngine engine, KvBudget budget, java.util.function.Function<long[], String> detokenizer)
      implements GenerationEngine {
    @Override
    public Sequence open(
        long[] prompt, SamplingParams params, Adapters adapters, TokenListener listener) {
      return new Sequence(
          prompt, params, adapters, listener, detokenizer, engine.model().newCache(budget));
    }

    @Override
    public BatchEngine.Step step(List<Sequence> sequences, int maxTokens) {
      return engine.step(sequences, maxTokens);
    }
  }

  /** {@code max_position_embeddings} of {@code config.json}, HF's usual 4096 when absent. */
  static int contextLength(Path dir) throws IOException {
    JsonNode c = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
    return c.path("max_position_embeddings").asInt(4096);
  }

  /** The same model with another engine (sharing, not owning, its resources); for tests. */
  ServedModel withEngine(GenerationEngine other) {
    return new ServedModel(
        name, dir, tokenizer, defaults, contextLength, vocabSize, adapters, other, List.of());
  }

  public String name() {
    return name;
  }

  public Path dir() {
    return dir;
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  /** The model's {@code generation_config.json} defaults (greedy when the file is absent). */
  public SamplingParams defaults() {
    return defaults;
  }

  /**
   * The most tokens (prompt + generated) one sequence may hold: {@code --max-model-len}, at most
   * the model's context.
   */
  public int contextLength() {
    return contextLength;
  }

  public int vocabSize() {
    return vocabSize;
  }

  /** Served adapters by name, in the order they were given. */
  public Map<String, ServedAdapter> adapters() {
    return adapters;
  }

  public List<ServedAdapter> adapterList() {
    return List.copyOf(adapters.values());
  }

  public Optional<ServedAdapter> adapter(String adapterName) {
    return Optional.ofNullable(adapters.get(adapterName));
  }

  /** Every adapter at its strength: upstream's transformers runtime serves this combination. */
  public Adapters allAdapters() {
    List<Adapters.Active> active = new ArrayList<>();
    for (ServedAdapter a : adapters.values()) {
      active.add(new Adapters.Active(a.adapter(), a.strength()));
    }
    return active.isEmpty() ? Adapters.NONE : Adapters.of(active);
  }

  public GenerationEngine engine() {
    return engine;
  }

  @Override
  public void close() {
    closeAll(owned);
  }

  private static void closeAll(List<AutoCloseable> resources) {
    for (AutoCloseable c : resources) {
      try {
        c.close();
      } catch (Exception e) {
        LOG.warn("close failed resource={} error={}", c.getClass().getSimpleName(), e.toString());
      }
    }
  }
}
