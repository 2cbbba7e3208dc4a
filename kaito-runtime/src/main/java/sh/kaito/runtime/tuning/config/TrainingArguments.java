package sh.kaito.runtime.tuning.config;

import java.nio.file.Path;
import java.util.List;

/**
 * The {@code TrainingArguments} section: TRL's {@code SFTConfig} (transformers' {@code
 * TrainingArguments} with SFT's defaults: learning rate 2e-5, logging every 10 steps, bf16 on,
 * max_length 1024). Values are the ones given or those defaults; the derived counts follow
 * transformers' {@code Trainer}.
 *
 * @param outputDir {@code output_dir} resolved against the working directory
 * @param numTrainEpochs may be fractional, as in transformers
 * @param maxSteps positive: the number of optimizer steps, overriding epochs; -1: from epochs
 * @param lrSchedulerType {@code linear}, {@code cosine}, {@code constant} or {@code
 *     constant_with_warmup}
 * @param loggingSteps below 1: a fraction of the total steps (see {@link #loggingInterval})
 * @param saveStrategy {@code no}, {@code steps} or {@code epoch}
 * @param saveSteps below 1: a fraction of the total steps (see {@link #saveInterval})
 * @param maxLength truncate tokenized examples to this length, or null for no truncation
 * @param truncationMode {@code keep_start} (keep the first max_length tokens) or {@code keep_end}
 * @param completionOnlyLoss null: loss on the completion for prompt/completion rows, on everything
 *     otherwise (TRL's default); true/false: forced
 * @param assistantOnlyLoss loss only on assistant turns (conversational rows; the chat template
 *     must mark them with {@code {% generation %}})
 * @param eosToken the end-of-sequence token TRL appends to text and completions, or null for the
 *     tokenizer's
 * @param shuffleDataset TRL's own shuffle of the prepared training examples (seeded with {@link
 *     #seed})
 * @param chatTemplatePath a Jinja file whose template replaces the tokenizer's, or null
 * @param halfPrecision bf16 or fp16 was requested (the default for SFT); the CPU run computes in
 *     float32 instead
 */
public record TrainingArguments(
    Path outputDir,
    int perDeviceTrainBatchSize,
    int gradientAccumulationSteps,
    double learningRate,
    double weightDecay,
    double adamBeta1,
    double adamBeta2,
    double adamEpsilon,
    double maxGradNorm,
    double numTrainEpochs,
    int maxSteps,
    String lrSchedulerType,
    double warmupRatio,
    int warmupSteps,
    String loggingStrategy,
    double loggingSteps,
    boolean loggingFirstStep,
    String saveStrategy,
    double saveSteps,
    Integer saveTotalLimit,
    long seed,
    Integer dataSeed,
    Integer maxLength,
    String truncationMode,
    Boolean completionOnlyLoss,
    boolean assistantOnlyLoss,
    String datasetTextField,
    String eosToken,
    boolean shuffleDataset,
    String chatTemplatePath,
    boolean halfPrecision) {

  /** Batches per epoch (the last may be short: transformers keeps it by default). */
  public int batchesPerEpoch(int trainExamples) {
    return (trainExamples + perDeviceTrainBatchSize - 1) / perDeviceTrainBatchSize;
  }

  /** Optimizer steps per epoch, as transformers counts them (at least one). */
  public int updateStepsPerEpoch(int trainExamples) {
    int batches = batchesPerEpoch(trainExamples);
    int ga = gradientAccumulationSteps;
    return Math.max(batches / ga + (batches % ga > 0 ? 1 : 0), 1);
  }

  /** The number of optimizer steps: {@code max_steps} when positive, else epochs × steps. */
  public int totalSteps(int trainExamples) {
    if (maxSteps > 0) {
      return maxSteps;
    }
    return (int) Math.ceil(numTrainEpochs * updateStepsPerEpoch(trainExamples));
  }

  /** Warm-up steps: {@code warmup_steps} when positive, else ceil(total × ratio). */
  public int warmupSteps(int totalSteps) {
    return warmupSteps > 0 ? warmupSteps : (int) Math.ceil(totalSteps * warmupRatio);
  }

  /** Steps between log lines (0 when logging is off). */
  public int loggingInterval(int totalSteps) {
    if (loggingStrategy.equals("no")) {
      return 0;
    }
    return interval(loggingSteps, totalSteps);
  }

  /** Steps between checkpoints (0 when {@code save_strategy} is not {@code steps}). */
  public int saveInterval(int totalSteps) {
    if (!saveStrategy.equals("steps")) {
      return 0;
    }
    return interval(saveSteps, totalSteps);
  }

  private static int interval(double steps, int totalSteps) {
    return steps < 1 ? (int) Math.ceil(totalSteps * steps) : (int) steps;
  }

  static TrainingArguments parse(Section s) {
    Path outputDir = Path.of(s.string("output_dir", "trainer_output")).toAbsolutePath().normalize();
    int batch = positive(s, "per_device_train_batch_size", 8);
    int ga = positive(s, "gradient_accumulation_steps", 1);
    double lr = s.number("learning_rate", 2e-5);
    if (lr < 0) {
      throw s.error("learning_rate", "must not be negative, got " + lr);
    }
    double weightDecay = s.number("weight_decay", 0.0);
    double beta1 = s.number("adam_beta1", 0.9);
    double beta2 = s.number("adam_beta2", 0.999);
    double eps = s.number("adam_epsilon", 1e-8);
    double maxGradNorm = s.number("max_grad_norm", 1.0);
    double epochs = s.number("num_train_epochs", 3.0);
    int maxSteps = s.integer("max_steps", -1);
    if (maxSteps <= 0 && maxSteps != -1) {
      throw s.error("max_steps", "must be positive, or -1 to train for num_train_epochs");
    }
    if (maxSteps == -1 && !(epochs > 0)) {
      throw s.error(
          "num_train_epochs", "must be positive when max_steps is not set, got " + epochs);
    }
    String scheduler =
        s.oneOf(
            "lr_scheduler_type",
            "linear",
            "learning-rate schedules",
            "linear",
            "cosine",
            "constant",
            "constant_with_warmup");
    double warmupRatio = s.number("warmup_ratio", 0.0);
    if (warmupRatio < 0 || warmupRatio > 1) {
      throw s.error("warmup_ratio", "must be in [0, 1], got " + warmupRatio);
    }
    int warmupSteps = s.integer("warmup_steps", 0);
    if (warmupSteps < 0) {
      throw s.error("warmup_steps", "must not be negative, got " + warmupSteps);
    }
    String loggingStrategy = s.oneOf("logging_strategy", "steps", "logging", "steps", "no");
    double loggingSteps = s.number("logging_steps", 10);
    if (!(loggingSteps > 0)) {
      throw s.error("logging_steps", "must be positive, got " + loggingSteps);
    }
    boolean loggingFirstStep = s.bool("logging_first_step", false);
    String saveStrategy =
        s.oneOf("save_strategy", "steps", "checkpointing", "no", "steps", "epoch");
    double saveSteps = s.number("save_steps", 500);
    if (!(saveSteps > 0)) {
      throw s.error("save_steps", "must be positive, got " + saveSteps);
    }
    Integer saveTotalLimit = s.optionalInteger("save_total_limit");
    int seed = s.integer("seed", 42);
    Integer dataSeed = s.optionalInteger("data_seed");
    Integer maxLength = s.optionalInteger("max_length");
    if (!s.has("max_length")) {
      maxLength = 1024;
    } else if (maxLength != null && maxLength <= 0) {
      throw s.error("max_length", "must be positive, got " + maxLength);
    }
    String truncation =
        s.oneOf("truncation_mode", "keep_start", "truncation", "keep_start", "keep_end");
    s.onlyBool("packing", false, false, "packing is not supported; examples are padded");
    s.onlyBool("padding_free", false, false, "padding-free batches need FlashAttention");
    s.noEffect("packing_strategy", "eval_packing", "pad_to_multiple_of");
    Boolean completionOnly = s.optionalBool("completion_only_loss");
    boolean assistantOnly = s.bool("assistant_only_loss", false);
    String textField = s.string("dataset_text_field", "text");
    String eosToken = s.string("eos_token", null);
    s.noEffect("pad_token"); // padding positions never reach the loss
    boolean shuffleDataset = s.bool("shuffle_dataset", false);
    String chatTemplatePath = s.string("chat_template_path", null);
    s.oneOf("loss_type", "nll", "loss functions", "nll", "chunked_nll");
    s.onlyUnset("dataset_kwargs", "dataset preparation cannot be skipped");
    s.onlyUnset("model_init_kwargs", "the model is loaded from --weights");
    s.onlyBool("trust_remote_code", false, false, "kaito-runtime runs no model-supplied code");
    s.onlyUnset("router_aux_loss_coef", "no mixture-of-experts models");

    Boolean bf16 = s.optionalBool("bf16");
    boolean fp16 = s.bool("fp16", false);
    boolean half = fp16 || (bf16 == null || bf16);
    s.noEffect(
        "tf32", "fp16_opt_level", "half_precision_backend", "bf16_full_eval", "fp16_full_eval");

    s.oneOf(
        "optim",
        "adamw_torch",
        "optimizers",
        "adamw_torch",
        "adamw_torch_fused",
        "adamw_hf",
        "adamw_torch_xla");
    s.onlyUnset("optim_args", "AdamW takes its options from adam_beta1/2 and adam_epsilon");
    s.onlyUnset("lr_scheduler_kwargs", "the schedules take no extra options");
    s.oneOf("eval_strategy", "no", "evaluation during training is not supported", "no");
    s.onlyBool("load_best_model_at_end", false, false, "no evaluation during training");
    s.onlyBool("group_by_length", false, false, "batches follow the shuffled order");
    s.onlyBool("dataloader_drop_last", false, false, "the last short batch is trained on");
    s.onlyBool("auto_find_batch_size", false, false, "the batch size is what is configured");
    s.onlyBool("torch_compile", false, false, "not supported");
    s.onlyBool("use_liger_kernel", false, false, "not supported");
    s.onlyBool("push_to_hub", false, false, "adapters are pushed by the Job's pusher");
    s.onlyBool("save_safetensors", true, true, "adapters are written as safetensors");
    s.onlyUnset("neftune_noise_alpha", "NEFTune is not supported");
    s.onlyUnset("resume_from_checkpoint", "a rerun resumes from output_dir by itself");
    s.onlyUnset("deepspeed", "single process");
    s.onlyUnset("fsdp", "single process");
    s.onlyNumber("label_smoothing_factor", 0.0, "not supported");
    List<String> reportTo = s.strings("report_to");
    if (reportTo != null && !reportTo.stream().allMatch(r -> r.equals("none") || r.equals("all"))) {
      throw s.error("report_to", reportTo + " is not supported (no reporting integrations; none)");
    }
    s.noEffect(
        // One process on the node, on local disk, without hubs, trackers or evaluation.
        "overwrite_output_dir",
        "do_train",
        "do_eval",
        "do_predict",
        "per_device_eval_batch_size",
        "eval_steps",
        "eval_delay",
        "eval_accumulation_steps",
        "prediction_loss_only",
        "ddp_find_unused_parameters",
        "ddp_bucket_cap_mb",
        "ddp_broadcast_buffers",
        "ddp_timeout",
        "ddp_backend",
        "local_rank",
        "dataloader_num_workers",
        "dataloader_pin_memory",
        "dataloader_persistent_workers",
        "dataloader_prefetch_factor",
        "dataset_num_proc",
        "disable_tqdm",
        "log_level",
        "log_level_replica",
        "log_on_each_node",
        "logging_dir",
        "logging_nan_inf_filter",
        "run_name",
        "project",
        "skip_memory_metrics",
        "remove_unused_columns",
        "use_cpu",
        "no_cuda",
        "torch_empty_cache_steps",
        "gradient_checkpointing",
        "gradient_checkpointing_kwargs",
        "activation_offloading",
        "save_on_each_node",
        "save_only_model",
        "full_determinism",
        "include_tokens_per_second",
        "include_num_input_tokens_seen",
        "average_tokens_across_devices",
        "hub_model_id",
        "hub_strategy",
        "hub_token",
        "hub_private_repo",
        "hub_always_push",
        "hub_revision");
    return new TrainingArguments(
        outputDir,
        batch,
        ga,
        lr,
        weightDecay,
        beta1,
        beta2,
        eps,
        maxGradNorm,
        epochs,
        maxSteps,
        scheduler,
        warmupRatio,
        warmupSteps,
        loggingStrategy,
        loggingSteps,
        loggingFirstStep,
        saveStrategy,
        saveSteps,
        saveTotalLimit,
        seed,
        dataSeed,
        maxLength,
        truncation,
        completionOnly,
        assistantOnly,
        textField,
        eosToken,
        shuffleDataset,
        chatTemplatePath,
        half);
  }

  private static int positive(Section s, String key, int defaultValue) {
    int v = s.integer(key, defaultValue);
    if (v <= 0) {
      throw s.error(key, "must be a positive integer, got " + v);
    }
    return v;
  }
}
