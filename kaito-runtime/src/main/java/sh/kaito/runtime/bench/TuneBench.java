package sh.kaito.runtime.bench;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.engine.WeightPlacement;
import sh.kaito.runtime.quant.FourBitFormat;
import sh.kaito.runtime.tuning.data.TokenizedExample;
import sh.kaito.runtime.tuning.train.LoraTrainer;
import sh.kaito.runtime.tuning.train.TrainingPlan;

/**
 * LoRA training throughput (forward + backward + optimizer) of {@link LoraTrainer}, measured as
 * {@code bench/tuning/bench_trl.py} measures TRL: random sequences, every token in the loss,
 * upstream's default LoRA (r 8, alpha 8, PEFT's default targets), the first step a warm-up.
 *
 * <p>{@code TuneBench MODEL_DIR THREADS SEQ BATCH STEPS [qlora]}; prints {@code java tokens_s=...
 * cpu_tokens_s=... peak_rss_mib=...} ({@code java-qlora ...}: the base's projections in NF4 with
 * double quantization, as {@code tune --method qlora}).
 */
public final class TuneBench {

  private TuneBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int threads = Integer.parseInt(args[1]);
    int seq = Integer.parseInt(args[2]);
    int batch = Integer.parseInt(args[3]);
    int steps = Integer.parseInt(args[4]);
    OperatingSystemMXBean cpu =
        (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    boolean qlora = args.length > 5 && args[5].equals("qlora");
    try (CausalLM model =
        CausalLM.load(
            dir, Device.cpu(), WeightPlacement.MAPPED, qlora ? FourBitFormat.QLORA : null)) {
      JniUtils.setNumThreads(threads);
      SplittableRandom random = new SplittableRandom(1);
      List<TokenizedExample> examples = new ArrayList<>();
      for (int i = 0; i < batch * (steps + 1); i++) {
        int[] ids = new int[seq];
        for (int t = 0; t < seq; t++) {
          ids[t] = 3 + random.nextInt(model.config().vocabSize() - 3);
        }
        examples.add(new TokenizedExample(ids, ids.clone(), dir, i + 1));
      }
      TrainingPlan plan =
          TrainingPlan.builder()
              .lora(8, 8, 0, false)
              .adamW(2e-5, 0, 0.9, 0.999, 1e-8)
              .batches(batch, 1)
              .length(1, steps)
              .seed(42, false)
              .steps(1000, 0)
              .build();
      long[] wall = new long[2];
      long[] cpuTime = new long[2];
      new LoraTrainer(model, plan, examples)
          .train(
              new LoraTrainer.Run(
                  null,
                  null,
                  p -> {},
                  (step, loss) -> {
                    if (step == 1) {
                      wall[0] = System.nanoTime();
                      cpuTime[0] = cpu.getProcessCpuTime();
                    }
                    wall[1] = System.nanoTime();
                    cpuTime[1] = cpu.getProcessCpuTime();
                  }));
      double tokens = (double) (steps - 1) * batch * seq;
      System.out.printf(
          "%s tokens_s=%.1f cpu_tokens_s=%.1f peak_rss_mib=%d steps=%d threads=%d%n",
          qlora ? "java-qlora" : "java",
          tokens / ((wall[1] - wall[0]) / 1e9),
          tokens / ((cpuTime[1] - cpuTime[0]) / 1e9),
          peakRssMib(),
          steps - 1,
          threads);
    }
  }

  /** VmHWM of this process: its peak resident set. */
  static long peakRssMib() throws java.io.IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
      }
    }
    return -1;
  }
}
