package sh.kaito.runtime.cli;

import ai.djl.Device;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.engine.WeightPlacement;
import sh.kaito.runtime.model.ModelFormatException;
import sh.kaito.runtime.quant.FourBitFormat;
import sh.kaito.runtime.tokenizer.TextTokenizer;
import sh.kaito.runtime.tuning.config.LoraSettings;
import sh.kaito.runtime.tuning.config.TrainingArguments;
import sh.kaito.runtime.tuning.config.TrainingConfig;
import sh.kaito.runtime.tuning.config.TrainingConfigException;
import sh.kaito.runtime.tuning.data.DatasetException;
import sh.kaito.runtime.tuning.data.TuningDataset;
import sh.kaito.runtime.tuning.train.Checkpoints;
import sh.kaito.runtime.tuning.train.LoraTrainer;
import sh.kaito.runtime.tuning.train.ProgressServer;
import sh.kaito.runtime.tuning.train.TargetModules;
import sh.kaito.runtime.tuning.train.TrainingPlan;

/**
 * {@code tune --preset NAME --method lora|qlora --weights DIR --data DIR --output DIR --gpus N
 * --port P [--config FILE]}: the tuning Job's main container (kaito-controller {@code TuningJobs}).
 * Trains a LoRA adapter as upstream's TRL {@code SFTTrainer} run does (QLoRA: on a base whose
 * projections are held in 4 bits, {@code QuantizationConfig}), writes it to the output directory
 * (PEFT's {@code adapter_config.json} + {@code adapter_model.safetensors}) and then the marker
 * {@code fine_tuning_completed.txt} the pusher waits for.
 *
 * <p>Checkpoints go to {@code OUTPUT/checkpoint-<step>} every {@code save_steps}; a rerun with the
 * same output directory resumes from the newest. On failure nothing half-written is left where the
 * adapter goes, no marker is written, the exit code is 1 and the one-line reason also goes to the
 * termination log (Kubernetes shows it in the pod's status).
 */
@Command(
    name = "tune",
    mixinStandardHelpOptions = true,
    description = {
      "Fine-tune the model in --weights with LoRA (QLoRA: on a 4-bit base) on the data in"
          + " --data; write the adapter and fine_tuning_completed.txt to --output."
    })
final class TuneCommand implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(TuneCommand.class);
  static final String MARKER = "fine_tuning_completed.txt";

  /**
   * Written (with the failure's message) into the output folder when tuning fails, so the pusher
   * beside it stops waiting for {@link #MARKER} and fails too: the pod ends, the Job fails and the
   * node's GPU is free. Upstream's pusher would wait forever.
   */
  static final String FAILED_MARKER = "fine_tuning_failed.txt";

  /**
   * {@code --method qlora} without {@code --config}: upstream's qlora template's quantization (NF4,
   * double quantization, bfloat16 compute, which the CPU computes in float32), other keys at their
   * defaults as for lora.
   */
  static final String QLORA_DEFAULTS =
      """
      training_config:
        QuantizationConfig:
          load_in_4bit: true
          bnb_4bit_quant_type: nf4
          bnb_4bit_compute_dtype: bfloat16
          bnb_4bit_use_double_quant: true
      """;

  @Spec CommandSpec spec;

  @Option(names = "--preset", required = true, paramLabel = "NAME", description = "Model preset.")
  String preset;

  @Option(
      names = "--method",
      defaultValue = "lora",
      paramLabel = "lora|qlora",
      description = "Tuning method (default ${DEFAULT-VALUE}).")
  String method;

  @Option(names = "--weights", required = true, paramLabel = "DIR", description = "Base model.")
  Path weights;

  @Option(names = "--data", required = true, paramLabel = "DIR", description = "Training data.")
  Path data;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "DIR",
      description = "Adapter, checkpoints and the completion marker go here.")
  Path output;

  @Option(
      names = "--gpus",
      defaultValue = "0",
      paramLabel = "N",
      description = "GPUs of the node (training runs on the CPU in this version).")
  int gpus;

  @Option(
      names = "--port",
      defaultValue = "5000",
      paramLabel = "PORT",
      description = "Port of GET /progress (0: any free port) (default ${DEFAULT-VALUE}).")
  int port;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description = "training_config.yaml (default: upstream's lora template's values).")
  Path config;

  @Option(
      names = "--termination-log",
      defaultValue = "/dev/termination-log",
      hidden = true,
      description = "Where the one-line failure reason goes (default ${DEFAULT-VALUE}).")
  Path terminationLog;

  @Override
  public Integer call() throws Exception {
    try {
      return tune();
    } catch (Exception e) {
      String message = RuntimeMain.messageOf(asFailure(e));
      writeTerminationMessage(message);
      writeFailedMarker(message);
      throw asFailure(e);
    }
  }

  private int tune() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (!method.equals("lora") && !method.equals("qlora")) {
      throw new CommandFailure("--method must be lora or qlora, got '" + method + "'");
    }
    List<String> defaultTargets =
        LoraSettings.targetModulesFromEnvironment(System.getenv("DEFAULT_TARGET_MODULES"));
    TrainingConfig cfg =
        config != null
            ? TrainingConfig.load(config, defaultTargets)
            : method.equals("qlora")
                ? TrainingConfig.parse(QLORA_DEFAULTS, defaultTargets)
                : TrainingConfig.defaults(defaultTargets);
    boolean qlora = method.equals("qlora");
    if (qlora != cfg.quantized()) {
      // As upstream's webhook checks the method against the config's QuantizationConfig.
      throw new CommandFailure(
          qlora
              ? "--method qlora needs QuantizationConfig.load_in_4bit: true in --config"
                  + " (load_in_8bit is not supported)"
              : "--method lora needs QuantizationConfig.load_in_4bit: false in --config (use"
                  + " --method qlora for 4-bit base weights)");
    }
    FourBitFormat fourBit = qlora ? cfg.quantization().format() : null;
    cfg.notes().forEach(n -> LOG.info("tune note {}", n));
    if (gpus > 0) {
      LOG.info(
          "tune gpus={} {}; training on GPUs is not implemented yet",
          gpus,
          sh.kaito.runtime.engine.Devices.describe(Device.cpu()));
    }
    Files.createDirectories(output);
    Files.deleteIfExists(output.resolve(MARKER)); // a stale marker would push a stale adapter
    Files.deleteIfExists(output.resolve(FAILED_MARKER)); // a retry starts afresh
    try (ProgressServer progress = ProgressServer.start(port)) {
      LOG.info("tune progress port={} path=/progress", progress.port());
      TextTokenizer tokenizer = TextTokenizer.load(weights);
      TuningDataset dataset =
          TuningDataset.load(
              data, cfg.dataset(), cfg.training(), tokenizer, cfg.chatTemplateOverride());
      if (fourBit != null) {
        LOG.info(
            "tune base in 4 bits format={} compute_dtype=float32 (QLoRA; embeddings, norms and"
                + " lm_head in float32)",
            fourBit);
      }
      try (CausalLM model = CausalLM.load(weights, Device.cpu(), WeightPlacement.MAPPED, fourBit)) {
        TrainingArguments args = cfg.training();
        int examples = dataset.train().size();
        int total = args.totalSteps(examples);
        TrainingPlan plan = plan(cfg, total);
        LoraTrainer trainer = new LoraTrainer(model, plan, dataset.train());
        progress.starting(trainer.totalSteps());
        LOG.info(
            "tune start preset={} examples={} steps={} batch={} accumulation={} modules={}",
            preset,
            examples,
            trainer.totalSteps(),
            plan.batchSize(),
            plan.gradientAccumulation(),
            trainer.targetModules().size());
        Checkpoints checkpoints =
            new Checkpoints(
                output, model.manager(), args.saveTotalLimit() == null ? 0 : args.saveTotalLimit());
        checkpoints.removeIncomplete();
        LoraTrainer.Result result =
            trainer.train(
                new LoraTrainer.Run(
                    checkpoints,
                    null,
                    p -> {
                      progress.update(p);
                      out.println(p.line());
                      out.flush();
                    },
                    null));
        writeAdapter(result, plan);
      }
    }
    Path marker = output.resolve(MARKER);
    Path tmp = output.resolve("." + MARKER + ".tmp");
    Files.writeString(tmp, "Fine-Tuning completed at " + Instant.now() + "\n");
    Files.move(tmp, marker, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    out.printf("tune done adapter=%s marker=%s%n", output, marker);
    return RuntimeMain.OK;
  }

  /** Writes the adapter beside the output and moves each file in whole. */
  private void writeAdapter(LoraTrainer.Result result, TrainingPlan plan) throws IOException {
    Path tmp = output.resolve(".adapter.tmp");
    deleteTree(tmp);
    result.save(tmp, plan, weights.toAbsolutePath().toString());
    for (String name : List.of("adapter_model.safetensors", "adapter_config.json")) {
      Files.move(
          tmp.resolve(name),
          output.resolve(name),
          StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    }
    deleteTree(tmp);
  }

  /** The training loop's settings from the config (total steps as transformers counts them). */
  static TrainingPlan plan(TrainingConfig cfg, int totalSteps) {
    LoraSettings lora = cfg.lora();
    TrainingArguments a = cfg.training();
    if (!lora.bias().equals("none")) {
      throw new TrainingConfigException(
          "LoraConfig.bias=" + lora.bias() + " is not supported (only LoRA matrices train)");
    }
    return TrainingPlan.builder()
        .lora(lora.r(), lora.loraAlpha(), lora.loraDropout(), lora.useRslora())
        .targets(
            lora.targetModules() == null
                ? new TargetModules.ArchitectureDefault()
                : new TargetModules.Names(lora.targetModules()))
        .layers(lora.layersToTransform())
        .peftInit(lora.initLoraWeights())
        .adamW(a.learningRate(), a.weightDecay(), a.adamBeta1(), a.adamBeta2(), a.adamEpsilon())
        .schedule(a.lrSchedulerType(), a.warmupSteps(), a.warmupRatio())
        .maxGradNorm(a.maxGradNorm())
        .batches(a.perDeviceTrainBatchSize(), a.gradientAccumulationSteps())
        .length(a.numTrainEpochs(), a.maxSteps())
        .seed(a.dataSeed() != null ? a.dataSeed() : a.seed(), true)
        .steps(loggingEvery(a.loggingInterval(totalSteps)), a.saveInterval(totalSteps))
        .logFirstStep(a.loggingFirstStep())
        .build();
  }

  /** logging_strategy "no" (interval 0): only the line of the last step. */
  private static int loggingEvery(int interval) {
    return interval > 0 ? interval : Integer.MAX_VALUE;
  }

  /** User errors keep their message; anything else is reported as RuntimeMain reports it. */
  private static Exception asFailure(Exception e) {
    if (e instanceof CommandFailure) {
      return e;
    }
    if (e instanceof DatasetException
        || e instanceof TrainingConfigException
        || e instanceof ModelFormatException
        || e instanceof IllegalArgumentException) {
      return new CommandFailure(e.getMessage(), e);
    }
    return e;
  }

  private void writeFailedMarker(String message) {
    if (output == null) {
      return;
    }
    try {
      Files.createDirectories(output);
      Files.writeString(output.resolve(FAILED_MARKER), message + "\n", StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      LOG.warn("failure marker not written dir={} error={}", output, e.getMessage());
    }
  }

  private void writeTerminationMessage(String message) {
    try {
      Files.writeString(terminationLog, message + "\n", StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      LOG.warn("termination log not written file={} error={}", terminationLog, e.getMessage());
    }
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (var walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
        Files.delete(p);
      }
    }
  }
}
