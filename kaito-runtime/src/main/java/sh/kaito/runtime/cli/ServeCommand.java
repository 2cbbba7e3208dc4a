package sh.kaito.runtime.cli;

import ai.djl.Device;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import sh.kaito.runtime.engine.Devices;
import sh.kaito.runtime.quant.FourBitFormat;
import sh.kaito.runtime.server.ChatServer;
import sh.kaito.runtime.server.ModelSpec;
import sh.kaito.runtime.server.ServedModel;
import sh.kaito.runtime.server.ServerConfig;

/**
 * {@code kaito-runtime serve}: listen at once (so {@code /health} answers 503 while the weights
 * load), load the model and adapters, then serve until SIGTERM. A model that fails to load ends the
 * process with exit code 1 and one log line, so the pod restarts and its status shows why.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = "Serve a model: /health, /chat, the OpenAI API and /metrics on --port.")
final class ServeCommand implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);

  @ParentCommand RuntimeMain root;

  @Option(
      names = "--weights",
      required = true,
      paramLabel = "DIR",
      description = "The HF model directory (config.json, *.safetensors, tokenizer.json)")
  Path weights;

  @Option(
      names = "--preset",
      paramLabel = "NAME",
      description = "The preset name; the served model name unless --served-model-name is given")
  String preset;

  @Option(
      names = "--served-model-name",
      paramLabel = "NAME",
      description = "The base model's name in /v1/models (default: --preset, else DIR's name)")
  String servedName;

  @Option(
      names = "--port",
      defaultValue = "5000",
      description = "HTTP port (default ${DEFAULT-VALUE})")
  int port;

  @Option(
      names = "--host",
      defaultValue = "0.0.0.0",
      description = "Address to bind (default ${DEFAULT-VALUE})")
  String host;

  @Option(
      names = "--adapter",
      paramLabel = "NAME=DIR",
      description =
          "A LoRA adapter directory served as NAME; repeatable. Its strength is the environment"
              + " variable NAME (default 1).")
  List<String> adapters = new ArrayList<>();

  @Option(
      names = "--adapters-dir",
      paramLabel = "DIR",
      description =
          "Also serve every sub-directory of DIR with an adapter_config.json, named after it")
  Path adaptersDir;

  @Option(
      names = "--device",
      paramLabel = "cpu|cuda|cuda:N",
      description = "Where the weights go (default: $KAITO_DEVICE, else cpu)")
  String device;

  @Option(
      names = "--max-queue",
      defaultValue = "" + ServerConfig.DEFAULT_QUEUE_CAPACITY,
      description =
          "Requests that may wait for a place in the running batch; one more gets 429 (default"
              + " ${DEFAULT-VALUE})")
  int maxQueue;

  @Option(
      names = "--load-in-4bit",
      description =
          "Hold the base model's decoder projections in 4 bits (NF4 with double quantization, as"
              + " QLoRA loads them): about 0.13x their float32 memory, dequantized one layer at a"
              + " time; adapters apply on top. Embeddings, norms and lm_head stay in full"
              + " precision.")
  boolean loadIn4bit;

  @Option(
      names = "--max-num-seqs",
      defaultValue = "" + ServerConfig.DEFAULT_MAX_NUM_SEQS,
      description = "The most sequences generated together in one batch (default ${DEFAULT-VALUE})")
  int maxNumSeqs;

  @Option(
      names = "--max-num-batched-tokens",
      defaultValue = "" + ServerConfig.DEFAULT_MAX_BATCH_TOKENS,
      description =
          "The most prompt tokens one step runs besides the decoding sequences; longer prompts run"
              + " in pieces (default ${DEFAULT-VALUE})")
  int maxBatchTokens;

  @Option(
      names = "--max-model-len",
      paramLabel = "TOKENS",
      description =
          "The most tokens (prompt + output) of one sequence; longer requests get 400 (default:"
              + " what the KV-cache memory holds, at most the model's context)")
  int maxModelLen;

  @Option(
      names = "--kv-cache-memory",
      paramLabel = "BYTES",
      defaultValue = "4GiB",
      description =
          "KV-cache memory shared by all sequences, e.g. 512MiB, 4GiB (default ${DEFAULT-VALUE});"
              + " requests join the batch while it has room")
  String kvCacheMemory;

  @Option(
      names = "--request-timeout",
      paramLabel = "SECONDS",
      defaultValue = "600",
      description =
          "A request not finished by then gets 504; 0: no limit (default ${DEFAULT-VALUE})")
  long requestTimeoutSeconds;

  @Option(
      names = "--shutdown-grace",
      paramLabel = "SECONDS",
      defaultValue = "30",
      description =
          "On SIGTERM, how long running requests may take to finish while new ones get 503"
              + " (default ${DEFAULT-VALUE})")
  long shutdownGraceSeconds;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description = "inference_config.yaml from the workspace's ConfigMap (not read yet)")
  Path config;

  @Override
  public Integer call() throws Exception {
    if (root != null) {
      root.exitWhenDone = false; // see RuntimeMain.exitWhenDone
    }
    ModelSpec spec = spec(System.getenv());
    Device dev = device == null ? Devices.fromEnvironment() : Devices.parse(device);
    LOG.info("serve {}", Devices.describe(dev));
    if (config != null) {
      LOG.warn("inference config not read yet, ignored file={}", config);
    }
    CompletableFuture<ServedModel> model = new CompletableFuture<>();
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    ServerConfig serverConfig =
        ServerConfig.of(host, port)
            .withQueueCapacity(maxQueue)
            .withBatching(maxNumSeqs, maxBatchTokens)
            .withTimeouts(
                Duration.ofSeconds(requestTimeoutSeconds),
                Duration.ofSeconds(shutdownGraceSeconds));
    ServedModel.Limits limits = new ServedModel.Limits(bytes(kvCacheMemory), maxModelLen);
    CountDownLatch stopped = new CountDownLatch(1);
    ChatServer server = ChatServer.create(model, serverConfig, registry).start();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  LOG.info("shutting down");
                  // New requests get 503 while running ones finish; no step runs after it returns.
                  server.close();
                  model.thenAccept(ServedModel::close);
                  stopped.countDown();
                },
                "kaito-shutdown"));
    try {
      model.complete(ServedModel.load(spec, dev, limits, loadIn4bit ? FourBitFormat.QLORA : null));
    } catch (Exception e) {
      model.completeExceptionally(e);
      LOG.error("model failed to load dir={} error={}", weights, e.getMessage());
      server.close();
      throw e;
    }
    stopped.await();
    return 0;
  }

  /** A size such as {@code 4GiB}, {@code 512MiB}, {@code 64KiB} or a plain number of bytes. */
  static long bytes(String size) {
    Matcher m = SIZE.matcher(size.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "--kv-cache-memory takes a size such as 512MiB or 4GiB, got '" + size + "'");
    }
    long unit =
        switch (m.group(2).toLowerCase(java.util.Locale.ROOT)) {
          case "", "b" -> 1L;
          case "k", "kb", "kib" -> 1L << 10;
          case "m", "mb", "mib" -> 1L << 20;
          case "g", "gb", "gib" -> 1L << 30;
          default -> 1L << 40;
        };
    double value = Double.parseDouble(m.group(1));
    if (value <= 0 || value * unit > Long.MAX_VALUE / 2) {
      throw new IllegalArgumentException("--kv-cache-memory must be > 0, got '" + size + "'");
    }
    return (long) (value * unit);
  }

  private static final Pattern SIZE =
      Pattern.compile(
          "([0-9]+(?:\\.[0-9]+)?)\\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)",
          Pattern.CASE_INSENSITIVE);

  ModelSpec spec(Map<String, String> env) throws java.io.IOException {
    Map<String, Path> named = new LinkedHashMap<>();
    if (adaptersDir != null) {
      for (Path d : ModelSpec.adapterDirs(adaptersDir)) {
        named.put(d.getFileName().toString(), d);
      }
    }
    for (String a : adapters) {
      int eq = a.indexOf('=');
      if (eq <= 0 || eq == a.length() - 1) {
        throw new IllegalArgumentException("--adapter takes NAME=DIR, got '" + a + "'");
      }
      named.put(a.substring(0, eq), Path.of(a.substring(eq + 1)));
    }
    List<ModelSpec.AdapterSpec> specs = new ArrayList<>();
    for (var e : named.entrySet()) {
      if (!Files.isDirectory(e.getValue())) {
        throw new IllegalArgumentException(
            "adapter " + e.getKey() + ": " + e.getValue() + " is not a directory");
      }
      specs.add(
          new ModelSpec.AdapterSpec(
              e.getKey(), e.getValue(), ModelSpec.strengthFromEnvironment(e.getKey(), env)));
    }
    String name =
        servedName != null
            ? servedName
            : preset != null
                ? preset
                : weights.toAbsolutePath().normalize().getFileName().toString();
    return new ModelSpec(weights, name, specs);
  }
}
