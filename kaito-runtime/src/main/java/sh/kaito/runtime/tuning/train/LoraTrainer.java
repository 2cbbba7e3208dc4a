package sh.kaito.runtime.tuning.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.lora.LoraDelta;
import sh.kaito.runtime.model.SafetensorsWriter.FloatTensor;
import sh.kaito.runtime.tuning.data.TokenizedExample;

/**
 * LoRA training of a {@link CausalLM} as TRL's {@code SFTTrainer} with PEFT does it, through the
 * model's one forward pass with libtorch autograd: the base weights are frozen (no gradient is ever
 * attached to them), the LoRA A and B matrices are the only parameters.
 *
 * <p>Per optimizer step: the next {@code gradient_accumulation_steps} batches of the epoch's
 * (seeded) order; each sequence's loss is the sum of its next-token cross-entropies over labels
 * other than -100, divided by the number of labels other than -100 in all of the step's batches
 * (transformers' {@code num_items_in_batch}, counted on the unshifted labels as transformers 4.57
 * does), so the step's gradient is that of the mean over the step; then {@code clip_grad_norm_},
 * AdamW, the scheduler. The last step of an epoch takes the batches that are left, as the HF
 * Trainer does.
 *
 * <p>Everything a step depends on is a function of the step number (data order from the seed and
 * epoch, dropout masks from the seed and step), so a run resumed from a checkpoint (parameters,
 * optimizer moments, step) continues exactly as an uninterrupted run.
 */
public final class LoraTrainer {

  private static final Logger LOG = LoggerFactory.getLogger(LoraTrainer.class);

  private final CausalLM model;
  private final TrainingPlan plan;
  private final List<TokenizedExample> examples;
  private final Map<String, long[]> shapes;
  private final int batchesPerEpoch;
  private final int stepsPerEpoch;
  private final int totalSteps;
  private final LearningRateSchedule schedule;

  public LoraTrainer(CausalLM model, TrainingPlan plan, List<TokenizedExample> examples) {
    if (examples.isEmpty()) {
      throw new IllegalArgumentException("no training examples");
    }
    this.model = model;
    this.plan = plan;
    this.examples = List.copyOf(examples);
    Map<String, long[]> all = model.linearModules();
    List<String> selected =
        plan.targets().select(new ArrayList<>(all.keySet()), model.config().architecture());
    this.shapes = new LinkedHashMap<>();
    for (String m : selected) {
      if (plan.layers() == null || plan.layers().contains(layerOf(m))) {
        shapes.put(m, all.get(m));
      }
    }
    if (shapes.isEmpty()) {
      throw new IllegalArgumentException(
          "LoraConfig.layers_to_transform "
              + plan.layers()
              + " selects none of the model's layers");
    }
    this.batchesPerEpoch = (examples.size() + plan.batchSize() - 1) / plan.batchSize();
    this.stepsPerEpoch =
        Math.max(
            1, (batchesPerEpoch + plan.gradientAccumulation() - 1) / plan.gradientAccumulation());
    this.totalSteps =
        plan.maxSteps() > 0 ? plan.maxSteps() : (int) Math.ceil(plan.epochs() * stepsPerEpoch);
    this.schedule =
        new LearningRateSchedule(
            plan.scheduler(),
            plan.learningRate(),
            plan.warmupSteps(),
            plan.warmupRatio(),
            totalSteps);
  }

  /** The decoder layer index in a module path {@code model.layers.<i>.…}. */
  private static int layerOf(String module) {
    String rest = module.substring(module.indexOf("layers.") + "layers.".length());
    return Integer.parseInt(rest.substring(0, rest.indexOf('.')));
  }

  public int totalSteps() {
    return totalSteps;
  }

  /** The module paths that get a LoRA update, in model order. */
  public List<String> targetModules() {
    return List.copyOf(shapes.keySet());
  }

  /** What a run reports and where it keeps its state. */
  public record Run(
      Checkpoints checkpoints,
      Path initialAdapterWeights,
      Consumer<TrainingProgress> progress,
      StepListener afterStep) {}

  /** Called after each optimizer step with the step number (1-based) and its loss. */
  public interface StepListener {
    void stepDone(int step, double loss) throws IOException;
  }

  /**
   * Trains to the last step, starting from the newest checkpoint when {@code run.checkpoints()} has
   * one, and returns the trained parameters.
   */
  public Result train(Run run) throws IOException {
    LoraParameters params;
    AdamW optimizer = new AdamW(plan);
    int step = 0;
    var resumed = run.checkpoints() == null ? null : run.checkpoints().latest();
    if (resumed != null) {
      params = LoraParameters.load(resumed.weights(), shapes, plan.rank(), model.manager());
      step = resumed.step();
      optimizer.restore(step, resumed.firstMoments(), resumed.secondMoments());
      LOG.info("tune resumed checkpoint={} step={}/{}", resumed.dir(), step, totalSteps);
    } else if (run.initialAdapterWeights() != null) {
      params =
          LoraParameters.load(run.initialAdapterWeights(), shapes, plan.rank(), model.manager());
    } else {
      params =
          LoraParameters.initialize(
              shapes, plan.rank(), plan.peftInit(), new SplittableRandom(plan.seed()));
    }
    List<Double> losses = new ArrayList<>();
    long start = System.nanoTime();
    long tokens = 0;
    int firstStep = step;
    double logged = 0;
    int loggedSteps = 0;
    while (step < totalSteps) {
      List<List<TokenizedExample>> batches = batchesOf(step);
      double[] stepTokens = new double[1];
      Map<String, float[]> grads = new LinkedHashMap<>();
      double loss = forwardBackward(params, step, batches, grads, stepTokens);
      tokens += (long) stepTokens[0];
      if (plan.maxGradNorm() > 0) {
        AdamW.clipGradNorm(grads, plan.maxGradNorm());
      }
      double lr = schedule.rate(step);
      optimizer.step(params.data(), grads, lr);
      step++;
      losses.add(loss);
      logged += loss;
      loggedSteps++;
      if (run.checkpoints() != null && plan.saveSteps() > 0 && step % plan.saveSteps() == 0) {
        run.checkpoints().save(step, params, optimizer, plan);
      }
      if (step % Math.max(1, plan.loggingSteps()) == 0
          || step == totalSteps
          || (step == 1 && plan.logFirstStep())) {
        double seconds = (System.nanoTime() - start) / 1e9;
        double perStep = seconds / (step - firstStep);
        run.progress()
            .accept(
                new TrainingProgress(
                    step,
                    totalSteps,
                    (double) step / stepsPerEpoch,
                    logged / loggedSteps,
                    lr,
                    tokens / seconds,
                    Math.round(perStep * (totalSteps - step))));
        logged = 0;
        loggedSteps = 0;
      }
      if (run.afterStep() != null) {
        run.afterStep().stepDone(step, loss);
      }
    }
    return new Result(params, losses);
  }

  /** The trained weights and the loss of each step this process ran. */
  public static final class Result {
    private final LoraParameters params;
    private final List<Double> losses;

    Result(LoraParameters params, List<Double> losses) {
      this.params = params;
      this.losses = List.copyOf(losses);
    }

    public List<Double> losses() {
      return losses;
    }

    /** Writes the adapter (PEFT's two files) into {@code dir}. */
    public void save(Path dir, TrainingPlan plan, String baseModel) throws IOException {
      params.save(dir, plan, baseModel);
    }

    /** The weights by PEFT key without the {@code base_model.model.} prefix. */
    public Map<String, FloatTensor> tensors() {
      return params.tensors();
    }
  }

  /** The batches of optimizer step {@code step} (0-based), as the HF Trainer groups them. */
  List<List<TokenizedExample>> batchesOf(int step) {
    int epoch = step / stepsPerEpoch;
    int group = step % stepsPerEpoch;
    int[] order = order(epoch);
    List<List<TokenizedExample>> out = new ArrayList<>();
    int firstBatch = group * plan.gradientAccumulation();
    int lastBatch = Math.min(batchesPerEpoch, firstBatch + plan.gradientAccumulation());
    for (int b = firstBatch; b < lastBatch; b++) {
      List<TokenizedExample> batch = new ArrayList<>();
      for (int i = b * plan.batchSize();
          i < Math.min(order.length, (b + 1) * plan.batchSize());
          i++) {
        batch.add(examples.get(order[i]));
      }
      out.add(batch);
    }
    return out;
  }

  /** The example order of one epoch: a seeded Fisher–Yates shuffle, or the data order. */
  private int[] order(int epoch) {
    int[] order = new int[examples.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    if (plan.shuffle()) {
      SplittableRandom rng = new SplittableRandom(plan.seed() * 1_000_003L + epoch);
      for (int i = order.length - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
    return order;
  }

  /**
   * Runs every sequence of the step forward and backward; fills {@code grads} (by parameter key)
   * and returns the step's loss (the mean over its labelled tokens).
   */
  private double forwardBackward(
      LoraParameters params,
      int step,
      List<List<TokenizedExample>> batches,
      Map<String, float[]> grads,
      double[] tokens) {
    long items = 0;
    for (List<TokenizedExample> batch : batches) {
      for (TokenizedExample e : batch) {
        for (int l : e.labels()) {
          if (l != -100) {
            items++;
          }
        }
      }
    }
    Engine engine = model.manager().getEngine();
    double loss = 0;
    try (NDManager stepScope = model.manager().newSubManager()) {
      Map<String, NDArray> arrays = new LinkedHashMap<>();
      params
          .tensors()
          .forEach(
              (key, t) -> {
                NDArray a = stepScope.create(t.data(), new Shape(t.shape()));
                a.setRequiresGradient(true);
                arrays.put(key, a);
              });
      Map<String, LoraDelta> deltas = new LinkedHashMap<>();
      float scale = (float) plan.scaling();
      for (String m : params.modules()) {
        deltas.put(
            m,
            new LoraDelta(
                arrays.get(m + LoraParameters.A),
                arrays.get(m + LoraParameters.B),
                scale,
                (float) plan.dropout()));
      }
      Adapters adapters = Adapters.ofDeltas(deltas);
      NDArray divisor = stepScope.create((float) Math.max(1, items));
      try (GradientCollector collector = engine.newGradientCollector()) {
        int sequence = 0;
        for (List<TokenizedExample> batch : batches) {
          for (TokenizedExample e : batch) {
            tokens[0] += e.inputIds().length;
            if (plan.dropout() > 0) {
              // Dropout masks come from libtorch's generator, seeded per sequence from the step.
              engine.setRandomSeed(
                  new SplittableRandom(plan.seed() ^ (step * 65_537L + sequence)).nextInt());
            }
            sequence++;
            try (NDManager scope = stepScope.newSubManager()) {
              loss += forwardBackward(scope, e, adapters, divisor, collector);
            }
          }
        }
      }
      arrays.forEach((key, a) -> grads.put(key, a.getGradient().toFloatArray()));
    }
    return loss;
  }

  /**
   * Forward and backward of one sequence; returns its loss: the sum over t of -log p(labels[t+1] |
   * ids[..t]) for labels other than -100, divided by {@code divisor} (0 when it has no such label).
   * The output layer runs on those positions only. With a 4-bit base (QLoRA) the model recomputes
   * layer by layer ({@link CausalLM#backwardByLayer}), so only one layer's dequantized weights are
   * held for backward at a time.
   */
  private double forwardBackward(
      NDManager scope,
      TokenizedExample e,
      Adapters adapters,
      NDArray divisor,
      GradientCollector collector) {
    int[] ids = e.inputIds();
    int[] labels = e.labels();
    int n = ids.length;
    // The positions whose next token is a label; only they go through the output layer.
    boolean[] rows = new boolean[n];
    long[] targets = new long[n];
    int k = 0;
    for (int t = 0; t + 1 < n; t++) {
      if (labels[t + 1] != -100) {
        rows[t] = true;
        targets[k++] = labels[t + 1];
      }
    }
    if (k == 0) {
      return 0;
    }
    long[] tokens = new long[n];
    for (int i = 0; i < n; i++) {
      tokens[i] = ids[i];
    }
    long[] picked = java.util.Arrays.copyOf(targets, k);
    // logits [k, vocab] fp32; the targets live in the logits' scope, which backward outlives
    java.util.function.Function<NDArray, NDArray> loss =
        logits ->
            logits
                .logSoftmax(1)
                .gather(logits.getManager().create(picked, new Shape(picked.length, 1)), 1)
                .sum()
                .neg()
                .div(divisor);
    if (model.fourBitBase()) {
      return model.backwardByLayer(scope, tokens, adapters, rows, loss);
    }
    NDArray sequenceLoss = loss.apply(model.logitsFromStart(scope, tokens, adapters, rows));
    collector.backward(sequenceLoss);
    return sequenceLoss.getFloat();
  }
}
