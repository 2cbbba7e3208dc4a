package sh.kaito.runtime.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import sh.kaito.runtime.Oracle;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.Generator;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.lora.LoraAdapter;

/**
 * Our engine against HF transformers (and peft) on the same tiny random checkpoints, saved by
 * {@code save_pretrained}: logits on the same ids and 32 greedy tokens.
 */
class ModelParityIT {

  /** arch:variant[:lora]; see oracle.py for what each variant changes. */
  static final String[] SPECS = {
    "llama:fp32",
    "llama:bf16",
    "llama:sharded",
    "llama:llama3rope",
    "mistral:fp32",
    "mistral:window",
    "qwen2:fp32",
    "qwen2:bf16",
    "phi3:fp32",
    "phi3:sharded",
    "phi3:longrope",
    "phi3:window",
    "llama:fp32:lora",
    "qwen2:fp32:lora",
    "phi3:fp32:lora",
  };

  private static Path work;

  static String[] specs() {
    return SPECS;
  }

  @BeforeAll
  static void runOracle() throws Exception {
    work = Oracle.workDir("parity");
    List<String> args = new ArrayList<>(List.of("cases", "--out", work.toString()));
    for (String spec : SPECS) {
      args.add("--spec");
      args.add(spec);
    }
    Oracle.run(work, args.toArray(String[]::new));
  }

  @ParameterizedTest
  @MethodSource("specs")
  void logitsAndGreedyTokensEqualTransformers(String spec) throws Exception {
    Path dir = work.resolve(spec.replace(':', '-'));
    JsonNode expected = Oracle.readJson(dir.resolve("expected.json"));
    try (CausalLM model = CausalLM.load(dir.resolve("model"), Device.cpu());
        LoraAdapter adapter =
            spec.endsWith(":lora")
                ? LoraAdapter.load(dir.resolve("adapter"), model.manager(), model.dataType())
                : null) {
      Adapters adapters = adapter == null ? Adapters.NONE : Adapters.of(adapter, 1f);
      long[] ids = Oracle.longs(expected.get("ids"));
      float[][] logits = model.logits(ids, adapters);
      int vocab = expected.get("vocab").asInt();
      JsonNode want = expected.get("logits");
      double maxDiff = 0;
      for (int t = 0; t < ids.length; t++) {
        for (int v = 0; v < vocab; v++) {
          maxDiff = Math.max(maxDiff, Math.abs(logits[t][v] - want.get(t * vocab + v).asDouble()));
        }
      }
      System.out.printf("parity spec=%s maxAbsLogitDiff=%.3g%n", spec, maxDiff);
      // 1e-4: both sides are fp32 on identical weights; only op order and kernels differ.
      assertThat(maxDiff).as("max |logit difference| for %s", spec).isLessThanOrEqualTo(1e-4);

      long[] prompt = Oracle.longs(expected.get("gen_prompt"));
      Generation out =
          new Generator(model, null)
              .generate(
                  prompt, SamplingParams.greedy(32, Set.of(2L)), adapters, TokenListener.NONE);
      // Greedy decoding must pick exactly HF's tokens (EOS id 2 ends both, included in the output).
      assertThat(out.tokens())
          .as("greedy tokens for %s", spec)
          .containsExactly(Oracle.longs(expected.get("generated")));
    }
  }
}
