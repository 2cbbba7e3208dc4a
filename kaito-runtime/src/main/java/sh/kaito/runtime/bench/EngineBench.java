package sh.kaito.runtime.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Random;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.engine.KvCache;
import sh.kaito.runtime.engine.WeightPlacement;
import sh.kaito.runtime.generate.Generator;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.lora.Adapters;

/**
 * Prefill and batch-1 decode throughput of the engine, measured the way {@code
 * bench/runtime/bench_hf.py} measures HF transformers: best of N after one warm-up round.
 *
 * <p>{@code EngineBench MODEL_DIR THREADS PROMPT_TOKENS NEW_TOKENS REPEATS [MAPPED|NATIVE_COPY]}
 */
public final class EngineBench {

  private EngineBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int threads = Integer.parseInt(args[1]);
    int promptLength = Integer.parseInt(args[2]);
    int newTokens = Integer.parseInt(args[3]);
    int repeats = Integer.parseInt(args[4]);
    WeightPlacement placement =
        args.length > 5 ? WeightPlacement.valueOf(args[5]) : WeightPlacement.MAPPED;
    // Process CPU time as well as wall time: on a shared machine the wall time swings with other
    // processes' load, the CPU seconds spent per token much less.
    OperatingSystemMXBean cpu =
        (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    try (CausalLM model = CausalLM.load(dir, Device.cpu(), placement)) {
      JniUtils.setNumThreads(threads);
      Random random = new Random(1);
      long[] prompt = new long[promptLength];
      for (int i = 0; i < prompt.length; i++) {
        prompt[i] = 3 + random.nextInt(model.config().vocabSize() - 3);
      }
      Generator generator = new Generator(model, null);
      SamplingParams greedy =
          SamplingParams.builder().maxNewTokens(newTokens).minNewTokens(newTokens).build();
      double bestPrefill = Double.MAX_VALUE;
      double bestDecode = Double.MAX_VALUE;
      double cpuPrefill = Double.MAX_VALUE;
      double cpuDecode = Double.MAX_VALUE;
      for (int r = 0; r <= repeats; r++) {
        double prefill;
        double prefillCpu;
        try (NDManager scope = model.manager().newSubManager();
            KvCache cache = model.newCache()) {
          long c0 = cpu.getProcessCpuTime();
          long t0 = System.nanoTime();
          model.forward(scope, prompt, cache, Adapters.NONE, true).toFloatArray();
          // Until the logits are in Java, as bench_hf.py stops when the model returns (freeing the
          // step's memory is not part of either).
          prefill = (System.nanoTime() - t0) / 1e9;
          prefillCpu = (cpu.getProcessCpuTime() - c0) / 1e9;
        }
        long[] stamps = new long[2];
        long[] cpuStamps = new long[2];
        int[] seen = {0};
        generator.generate(
            prompt,
            greedy,
            Adapters.NONE,
            token -> {
              long now = System.nanoTime();
              long cpuNow = cpu.getProcessCpuTime();
              if (seen[0]++ == 0) {
                stamps[0] = now;
                cpuStamps[0] = cpuNow;
              }
              stamps[1] = now;
              cpuStamps[1] = cpuNow;
            });
        double decode = (stamps[1] - stamps[0]) / 1e9;
        double decodeCpu = (cpuStamps[1] - cpuStamps[0]) / 1e9;
        if (r > 0) {
          bestPrefill = Math.min(bestPrefill, prefill);
          bestDecode = Math.min(bestDecode, decode);
          cpuPrefill = Math.min(cpuPrefill, prefillCpu);
          cpuDecode = Math.min(cpuDecode, decodeCpu);
        }
      }
      System.out.printf(
          "java prefill_tok_s=%.1f decode_tok_s=%.1f prefill_cpu_tok_s=%.1f decode_cpu_tok_s=%.1f"
              + " threads=%d weights=%s%n",
          promptLength / bestPrefill,
          (newTokens - 1) / bestDecode,
          promptLength / cpuPrefill,
          (newTokens - 1) / cpuDecode,
          threads,
          placement);
    }
  }
}
