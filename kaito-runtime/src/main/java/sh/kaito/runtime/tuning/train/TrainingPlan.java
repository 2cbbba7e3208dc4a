package sh.kaito.runtime.tuning.train;

/**
 * What one LoRA training run does: the resolved values of upstream's {@code LoraConfig} (PEFT) and
 * {@code TrainingArguments} (TRL's {@code SFTConfig}) that the training loop reads. Defaults are
 * PEFT's and SFTConfig's; {@link #builder()} changes them one at a time.
 *
 * @param rank LoRA {@code r}
 * @param alpha {@code lora_alpha}; updates scale by alpha / r (alpha / sqrt(r) with rsLoRA)
 * @param dropout {@code lora_dropout}
 * @param targets {@code target_modules}
 * @param layers {@code layers_to_transform}: the decoder layer indices to adapt, or null for all
 * @param peftInit {@code init_lora_weights}: true, A Kaiming-uniform and B zero; false, both
 *     Kaiming-uniform as {@code nn.Linear} initialises them
 * @param learningRate peak learning rate
 * @param scheduler {@code lr_scheduler_type}: linear, cosine, constant, constant_with_warmup
 * @param warmupSteps used when positive, else {@code ceil(warmupRatio * total steps)}
 * @param maxGradNorm 0 or less: no clipping
 * @param batchSize {@code per_device_train_batch_size}
 * @param epochs {@code num_train_epochs}, when {@code maxSteps} is not positive
 * @param shuffle whether each epoch visits the examples in a seeded random order (as the HF
 *     Trainer's random sampler does; false keeps the data order)
 * @param loggingSteps a progress line every this many optimizer steps
 * @param saveSteps a checkpoint every this many optimizer steps; 0: none
 */
public record TrainingPlan(
    int rank,
    double alpha,
    double dropout,
    boolean rslora,
    TargetModules targets,
    java.util.List<Integer> layers,
    boolean peftInit,
    double learningRate,
    double weightDecay,
    double beta1,
    double beta2,
    double epsilon,
    String scheduler,
    int warmupSteps,
    double warmupRatio,
    double maxGradNorm,
    int batchSize,
    int gradientAccumulation,
    double epochs,
    int maxSteps,
    long seed,
    boolean shuffle,
    int loggingSteps,
    int saveSteps) {

  public TrainingPlan {
    if (rank <= 0) {
      throw new IllegalArgumentException("LoraConfig.r must be positive, got " + rank);
    }
    if (dropout < 0 || dropout >= 1) {
      throw new IllegalArgumentException(
          "LoraConfig.lora_dropout must be in [0, 1), got " + dropout);
    }
    if (batchSize <= 0 || gradientAccumulation <= 0) {
      throw new IllegalArgumentException(
          "per_device_train_batch_size and gradient_accumulation_steps must be positive");
    }
    if (maxSteps <= 0 && epochs <= 0) {
      throw new IllegalArgumentException("num_train_epochs or max_steps must be positive");
    }
    LearningRateSchedule.requireKnown(scheduler);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Starts from PEFT's LoraConfig and TRL SFTConfig defaults. */
  public static final class Builder {
    private int rank = 8;
    private double alpha = 8;
    private double dropout = 0;
    private boolean rslora = false;
    private TargetModules targets = new TargetModules.ArchitectureDefault();
    private java.util.List<Integer> layers = null;
    private boolean peftInit = true;
    private double learningRate = 2e-5;
    private double weightDecay = 0;
    private double beta1 = 0.9;
    private double beta2 = 0.999;
    private double epsilon = 1e-8;
    private String scheduler = "linear";
    private int warmupSteps = 0;
    private double warmupRatio = 0;
    private double maxGradNorm = 1.0;
    private int batchSize = 8;
    private int gradientAccumulation = 1;
    private double epochs = 3;
    private int maxSteps = -1;
    private long seed = 42;
    private boolean shuffle = true;
    private int loggingSteps = 10;
    private int saveSteps = 0;

    public Builder lora(int rank, double alpha, double dropout, boolean rslora) {
      this.rank = rank;
      this.alpha = alpha;
      this.dropout = dropout;
      this.rslora = rslora;
      return this;
    }

    public Builder targets(TargetModules targets) {
      this.targets = targets;
      return this;
    }

    public Builder layers(java.util.List<Integer> layers) {
      this.layers = layers == null ? null : java.util.List.copyOf(layers);
      return this;
    }

    public Builder peftInit(boolean peftInit) {
      this.peftInit = peftInit;
      return this;
    }

    public Builder adamW(
        double learningRate, double weightDecay, double beta1, double beta2, double epsilon) {
      this.learningRate = learningRate;
      this.weightDecay = weightDecay;
      this.beta1 = beta1;
      this.beta2 = beta2;
      this.epsilon = epsilon;
      return this;
    }

    public Builder schedule(String scheduler, int warmupSteps, double warmupRatio) {
      this.scheduler = scheduler;
      this.warmupSteps = warmupSteps;
      this.warmupRatio = warmupRatio;
      return this;
    }

    public Builder maxGradNorm(double maxGradNorm) {
      this.maxGradNorm = maxGradNorm;
      return this;
    }

    public Builder batches(int batchSize, int gradientAccumulation) {
      this.batchSize = batchSize;
      this.gradientAccumulation = gradientAccumulation;
      return this;
    }

    /** {@code num_train_epochs} and {@code max_steps} (positive max steps wins). */
    public Builder length(double epochs, int maxSteps) {
      this.epochs = epochs;
      this.maxSteps = maxSteps;
      return this;
    }

    public Builder seed(long seed, boolean shuffle) {
      this.seed = seed;
      this.shuffle = shuffle;
      return this;
    }

    public Builder steps(int loggingSteps, int saveSteps) {
      this.loggingSteps = loggingSteps;
      this.saveSteps = saveSteps;
      return this;
    }

    public TrainingPlan build() {
      return new TrainingPlan(
          rank,
          alpha,
          dropout,
          rslora,
          targets,
          layers,
          peftInit,
          learningRate,
          weightDecay,
          beta1,
          beta2,
          epsilon,
          scheduler,
          warmupSteps,
          warmupRatio,
          maxGradNorm,
          batchSize,
          gradientAccumulation,
          epochs,
          maxSteps,
          seed,
          shuffle,
          loggingSteps,
          saveSteps);
    }
  }

  /** LoRA's multiplier for a rank-r update. */
  public double scaling() {
    return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
  }
}
