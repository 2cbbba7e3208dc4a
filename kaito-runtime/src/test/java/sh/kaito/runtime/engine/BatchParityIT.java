package sh.kaito.runtime.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sh.kaito.runtime.Oracle;
import sh.kaito.runtime.generate.BatchEngine;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.Generator;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.Sequence;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.lora.LoraAdapter;

/**
 * Batched = alone: sequences of different lengths, positions, adapters (none, one, another at
 * another strength, both), sampling seeds and {@code n} run together in one forward pass per step
 * give each sequence the logits and tokens it gets alone. The checkpoints are the oracle's tiny
 * random ones (with a PEFT adapter), as in {@link ModelParityIT}.
 */
class BatchParityIT {

  private static Path work;

  @BeforeAll
  static void runOracle() throws Exception {
    work = Oracle.workDir("batch");
    Oracle.run(
        work,
        "cases",
        "--out",
        work.toString(),
        "--spec",
        "llama:fp32:lora",
        "--spec",
        "mistral:window:lora",
        "--spec",
        "phi3:fp32:lora");
  }

  /** One sequence of the test: its prompt and the adapters it runs with. */
  private record Row(long[] prompt, Adapters adapters) {}

  private static long[] cycle(long[] base, int n, int shift) {
    long[] out = new long[n];
    for (int i = 0; i < n; i++) {
      out[i] = base[(i + shift) % base.length];
    }
    return out;
  }

  /**
   * Prefill pieces and decode steps of four sequences interleaved in three batched calls (each one
   * forward call, counted) against each sequence run alone, position by position.
   */
  @ParameterizedTest
  @ValueSource(strings = {"llama:fp32:lora", "mistral:window:lora", "phi3:fp32:lora"})
  void batchedLogitsEqualLogitsAlone(String spec) throws Exception {
    Path dir = work.resolve(spec.replace(':', '-'));
    long[] ids = Oracle.longs(Oracle.readJson(dir.resolve("expected.json")).get("ids"));
    try (CausalLM model = CausalLM.load(dir.resolve("model"), Device.cpu());
        LoraAdapter a =
            LoraAdapter.load(dir.resolve("adapter"), model.manager(), model.dataType());
        LoraAdapter b =
            LoraAdapter.load(dir.resolve("adapter"), model.manager(), model.dataType())) {
      // a and b: the same file loaded twice, so distinct weights as far as the batch can tell.
      Adapters both =
          Adapters.of(List.of(new Adapters.Active(a, 1f), new Adapters.Active(b, 0.5f)));
      List<Row> rows =
          List.of(
              new Row(cycle(ids, 3, 0), Adapters.NONE),
              new Row(cycle(ids, 40, 1), Adapters.of(a, 1f)),
              new Row(cycle(ids, 17, 2), Adapters.of(b, 0.7f)),
              new Row(cycle(ids, 9, 3), both));
      int decodeSteps = 3;
      // Alone: each sequence's prompt, then its decode tokens one at a time.
      List<float[][]> alone = new ArrayList<>();
      for (Row r : rows) {
        long[] all = Arrays.copyOf(r.prompt(), r.prompt().length + decodeSteps);
        for (int t = 0; t < decodeSteps; t++) {
          all[r.prompt().length + t] = ids[(t * 5) % ids.length];
        }
        alone.add(model.logits(all, r.adapters()));
      }
      double maxDiff = 0;
      List<KvCache> caches = new ArrayList<>();
      for (int i = 0; i < rows.size(); i++) {
        caches.add(model.newCache());
      }
      int[] done = new int[rows.size()];
      try {
        // Step 1: rows 0 and 2 whole prompts, row 1 its first 25 tokens, row 3 waits.
        // Step 2: rows 0 and 2 decode, row 1 the rest of its prompt, row 3 its whole prompt.
        // Steps 3..: all decode.
        int[][] plan = {{3, 25, 17, 0}, {1, 15, 1, 9}, {1, 1, 1, 1}, {1, 1, 1, 1}};
        for (int[] step : plan) {
          List<CausalLM.Chunk> chunks = new ArrayList<>();
          List<Integer> who = new ArrayList<>();
          for (int i = 0; i < rows.size(); i++) {
            if (step[i] == 0 || done[i] >= alone.get(i).length) {
              continue;
            }
            long[] all = alone(rows.get(i), ids, decodeSteps);
            chunks.add(
                new CausalLM.Chunk(
                    Arrays.copyOfRange(all, done[i], done[i] + step[i]),
                    caches.get(i),
                    rows.get(i).adapters(),
                    false));
            who.add(i);
          }
          long calls = model.forwardCalls();
          float[] logits;
          try (NDManager scope = model.manager().newSubManager()) {
            logits = model.forward(scope, chunks).toFloatArray();
          }
          assertThat(model.forwardCalls() - calls).as("one forward call per step").isEqualTo(1);
          int vocab = model.config().vocabSize();
          int row = 0;
          for (int c = 0; c < chunks.size(); c++) {
            int i = who.get(c);
            for (int t = 0; t < chunks.get(c).tokens().length; t++, row++) {
              float[] want = alone.get(i)[done[i] + t];
              double rowDiff = 0;
              double rowMax = 0;
              for (int v = 0; v < vocab; v++) {
                rowDiff = Math.max(rowDiff, Math.abs(logits[row * vocab + v] - want[v]));
                rowMax = Math.max(rowMax, Math.abs(want[v]));
              }
              System.out.printf(
                  "DEBUG seq=%d pos=%d chunk=%d diff=%.3g max=%.3g%n",
                  i, done[i] + t, chunks.get(c).tokens().length, rowDiff, rowMax);
              maxDiff = Math.max(maxDiff, rowDiff);
            }
            done[i] += chunks.get(c).tokens().length;
          }
        }
      } finally {
        caches.forEach(KvCache::close);
      }
      System.out.printf("batched spec=%s maxAbsLogitDiff=%.3g%n", spec, maxDiff);
      // 1e-5: the same fp32 sums; a batch changes only how GEMMs block their rows.
      assertThat(maxDiff).as("batched against alone for %s", spec).isLessThanOrEqualTo(1e-5);
    }
  }

  private static long[] alone(Row r, long[] ids, int decodeSteps) {
    long[] all = Arrays.copyOf(r.prompt(), r.prompt().length + decodeSteps);
    for (int t = 0; t < decodeSteps; t++) {
      all[r.prompt().length + t] = ids[(t * 5) % ids.length];
    }
    return all;
  }

  /**
   * The step engine: greedy and seeded sampled sequences, n = 2 sharing a prompt's prefill,
   * adapters per sequence, chunked prefill (8 tokens a step), and a KV budget small enough that
   * sequences are preempted and recomputed: every sequence's tokens equal its tokens alone (where
   * they may differ at all: a top-two margin above 1e-4), and every step is one forward call.
   */
  @ParameterizedTest
  @ValueSource(strings = {"llama:fp32:lora", "phi3:fp32:lora"})
  void stepsOfTheBatchEngineGiveEachSequenceItsTokensAlone(String spec) throws Exception {
    Path dir = work.resolve(spec.replace(':', '-'));
    long[] ids = Oracle.longs(Oracle.readJson(dir.resolve("expected.json")).get("ids"));
    try (CausalLM model = CausalLM.load(dir.resolve("model"), Device.cpu());
        LoraAdapter a =
            LoraAdapter.load(dir.resolve("adapter"), model.manager(), model.dataType())) {
      Set<Long> noEos = Set.of();
      List<long[]> prompts = List.of(cycle(ids, 21, 0), cycle(ids, 5, 4), cycle(ids, 12, 7));
      List<Adapters> adapters = List.of(Adapters.of(a, 1f), Adapters.NONE, Adapters.of(a, 0.4f));
      List<SamplingParams> params =
          List.of(
              SamplingParams.greedy(12, noEos),
              SamplingParams.builder().maxNewTokens(10).sample(1.1, 30, 0.95, 7).build(),
              SamplingParams.builder().maxNewTokens(14).sample(0.8, 0, 1.0, 99).build());
      // Alone, each with its own seed; the n = 2 sibling of sequence 2 draws with seed 100.
      SamplingParams sibling =
          SamplingParams.builder().maxNewTokens(14).sample(0.8, 0, 1.0, 100).build();
      Generator generator = new Generator(model, null);
      List<long[]> want = new ArrayList<>();
      for (int i = 0; i < prompts.size(); i++) {
        want.add(
            generator
                .generate(prompts.get(i), params.get(i), adapters.get(i), TokenListener.NONE)
                .tokens());
      }
      want.add(
          generator
              .generate(prompts.get(2), sibling, adapters.get(2), TokenListener.NONE)
              .tokens());

      // Unlimited memory with prompts run 8 tokens a step; then all prompts in the first step and
      // memory for 80 positions (all prompts fit, their outputs do not): sequences lose their
      // caches and run again.
      for (KvBudget budget : List.of(KvBudget.unlimited(), new KvBudget(80, 0))) {
        int stepTokens = budget.slots() == 80 ? 64 : 8;
        BatchEngine engine = new BatchEngine(model);
        List<Sequence> seqs = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
          seqs.add(
              new Sequence(
                  prompts.get(i),
                  params.get(i),
                  adapters.get(i),
                  TokenListener.NONE,
                  null,
                  model.newCache(budget)));
        }
        seqs.add(
            new Sequence(
                    prompts.get(2),
                    sibling,
                    adapters.get(2),
                    TokenListener.NONE,
                    null,
                    model.newCache(budget))
                .sharePrefillWith(seqs.get(2)));
        int preempted = 0;
        int steps = 0;
        try {
          while (seqs.stream().anyMatch(s -> !s.finished())) {
            long calls = model.forwardCalls();
            BatchEngine.Step step = engine.step(seqs, stepTokens);
            assertThat(step.sequences()).as("a step runs something").isPositive();
            assertThat(model.forwardCalls() - calls).as("one forward call per step").isEqualTo(1);
            preempted += step.preempted();
            steps++;
            assertThat(steps).isLessThan(200);
          }
          for (int i = 0; i < seqs.size(); i++) {
            Generation g = seqs.get(i).result();
            long[] prompt = prompts.get(Math.min(i, 2));
            Adapters ad = adapters.get(Math.min(i, 2));
            assertSameTokensWhereDecided(
                model, prompt, ad, g.tokens(), want.get(i), spec + " #" + i);
          }
        } finally {
          seqs.forEach(Sequence::close);
        }
        System.out.printf(
            "batch engine spec=%s budget=%d steps=%d preempted=%d used_after=%d%n",
            spec, budget.slots(), steps, preempted, budget.used());
        assertThat(budget.used()).as("closed caches give their slots back").isZero();
        if (budget.slots() == 80) {
          assertThat(preempted).as("the small budget forces preemption").isPositive();
        }
      }
    }
  }

  /**
   * Equal tokens, except that from the first difference on the run is free only if the logits alone
   * at that position had a top-two margin of at most 1e-4 (a near tie either side may break).
   */
  private static void assertSameTokensWhereDecided(
      CausalLM model, long[] prompt, Adapters adapters, long[] got, long[] want, String what) {
    int n = Math.min(got.length, want.length);
    int first = 0;
    while (first < n && got[first] == want[first]) {
      first++;
    }
    if (first == n && got.length == want.length) {
      return;
    }
    long[] all = Arrays.copyOf(prompt, prompt.length + first);
    System.arraycopy(want, 0, all, prompt.length, first);
    float[] logits = model.logits(all, adapters)[all.length - 1];
    float[] sorted = logits.clone();
    Arrays.sort(sorted);
    double margin = sorted[sorted.length - 1] - sorted[sorted.length - 2];
    assertThat(margin)
        .as(
            "%s differs at token %d (%s vs %s) with a top-two margin",
            what, first, Arrays.toString(got), Arrays.toString(want))
        .isLessThanOrEqualTo(1e-4);
  }
}
