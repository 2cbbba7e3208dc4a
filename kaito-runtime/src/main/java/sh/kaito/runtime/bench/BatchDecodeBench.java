package sh.kaito.runtime.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.generate.BatchEngine;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.Sequence;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;

/**
 * Decode throughput of {@link BatchEngine} at several batch sizes, against the limit that memory
 * bandwidth sets for batch 1 (the weights are read once per step: weight bytes / read bandwidth),
 * with the read bandwidth measured here (libtorch summing a 512 MiB fp32 tensor, best of 5).
 * Optionally writes libtorch's profile of the decode steps of the first batch size listed.
 *
 * <p>{@code BatchDecodeBench MODEL_DIR THREADS PROMPT_TOKENS STEPS BATCHES(comma list) [PROFILE]}
 */
public final class BatchDecodeBench {

  private BatchDecodeBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int threads = Integer.parseInt(args[1]);
    int promptLength = Integer.parseInt(args[2]);
    int steps = Integer.parseInt(args[3]);
    String[] batches = args[4].split(",");
    String profile = args.length > 5 ? args[5] : null;
    try (CausalLM model = CausalLM.load(dir, Device.cpu())) {
      JniUtils.setNumThreads(threads);
      long weightBytes = 0;
      for (long[] shape : model.linearModules().values()) {
        weightBytes += shape[0] * shape[1] * 4L;
      }
      // Embedding rows read per token are negligible; lm_head reads the whole [vocab, hidden].
      weightBytes += (long) model.config().vocabSize() * model.config().hiddenSize() * 4L;
      double bandwidth = readBandwidth(model);
      double limit = bandwidth / weightBytes;
      System.out.printf(
          "bench weights_bytes=%d read_bandwidth_gb_s=%.2f batch1_limit_tok_s=%.1f threads=%d%n",
          weightBytes, bandwidth / 1e9, limit, threads);
      for (String b : batches) {
        int batch = Integer.parseInt(b.trim());
        double best = Double.MAX_VALUE;
        for (int round = 0; round < 3; round++) {
          best = Math.min(best, decodeSeconds(model, batch, promptLength, steps, null));
        }
        System.out.printf(
            "bench batch=%d decode_steps=%d step_ms=%.1f tokens_s=%.1f of_batch1_limit=%.2f%n",
            batch, steps, best * 1000 / steps, batch * steps / best, batch * steps / best / limit);
      }
      if (profile != null) {
        decodeSeconds(model, Integer.parseInt(batches[0].trim()), promptLength, steps, profile);
        System.out.println("bench profile=" + profile);
      }
    }
  }

  private static double readBandwidth(CausalLM model) {
    double best = Double.MAX_VALUE;
    long elements = 128L << 20; // 512 MiB of fp32
    try (NDManager m = model.manager().newSubManager()) {
      NDArray big = m.ones(new Shape(elements), DataType.FLOAT32);
      for (int i = 0; i < 5; i++) {
        long t0 = System.nanoTime();
        try (NDArray s = big.sum()) {
          s.getFloat();
        }
        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
      }
    }
    return elements * 4.0 / best;
  }

  /** Seconds for {@code steps} decode steps of {@code batch} sequences after their prefill. */
  private static double decodeSeconds(
      CausalLM model, int batch, int promptLength, int steps, String profile) {
    Random random = new Random(batch);
    BatchEngine engine = new BatchEngine(model);
    List<Sequence> seqs = new ArrayList<>();
    try {
      for (int i = 0; i < batch; i++) {
        long[] prompt = new long[promptLength];
        for (int t = 0; t < prompt.length; t++) {
          prompt[t] = 3 + random.nextInt(model.config().vocabSize() - 3);
        }
        SamplingParams greedy =
            SamplingParams.builder().maxNewTokens(steps + 2).minNewTokens(steps + 2).build();
        seqs.add(
            new Sequence(
                prompt, greedy, Adapters.NONE, TokenListener.NONE, null, model.newCache()));
      }
      engine.step(seqs, Integer.MAX_VALUE); // every prompt, and each sequence's first token
      if (profile != null) {
        JniUtils.startProfile(false, false, false);
      }
      long t0 = System.nanoTime();
      for (int s = 0; s < steps; s++) {
        engine.step(seqs, Integer.MAX_VALUE);
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      if (profile != null) {
        JniUtils.stopProfile(profile);
      }
      return seconds;
    } finally {
      seqs.forEach(Sequence::close);
    }
  }
}
