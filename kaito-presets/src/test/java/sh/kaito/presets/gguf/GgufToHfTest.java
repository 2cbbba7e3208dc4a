package sh.kaito.presets.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.presets.cli.CliRun;

/** A tiny Llama GGUF written by the test, converted into a Hugging Face directory. */
class GgufToHfTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  /** hidden 8, 2 heads of 4, 1 KV head, FFN 8, vocab 6; each value encodes (row, col). */
  private static GgufFixture tiny() {
    GgufFixture f = GgufFixture.tinyLlama();
    f.put("llama.embedding_length", new GgufFixture.U32(8));
    f.tensor("token_embd.weight", new long[] {8, 6}, 0, rows(6, 8));
    f.tensor("blk.0.attn_norm.weight", new long[] {8}, 0, rows(1, 8));
    f.tensor("blk.0.attn_q.weight", new long[] {8, 8}, 0, rows(8, 8));
    f.tensor("blk.0.attn_k.weight", new long[] {8, 4}, 0, rows(4, 8));
    f.tensor("blk.0.attn_v.weight", new long[] {8, 4}, 0, rows(4, 8));
    f.tensor("blk.0.attn_output.weight", new long[] {8, 8}, 0, rows(8, 8));
    f.tensor("blk.0.ffn_norm.weight", new long[] {8}, 0, rows(1, 8));
    f.tensor("blk.0.ffn_gate.weight", new long[] {8, 8}, 0, rows(8, 8));
    f.tensor("blk.0.ffn_up.weight", new long[] {8, 8}, 0, rows(8, 8));
    f.tensor("blk.0.ffn_down.weight", new long[] {8, 8}, 0, rows(8, 8));
    f.tensor("output_norm.weight", new long[] {8}, 0, rows(1, 8));
    return f;
  }

  /** F32 data of a [rows, cols] matrix whose element (r, c) is 100 r + c. */
  private static byte[] rows(int rows, int cols) {
    ByteBuffer b = ByteBuffer.allocate(4 * rows * cols).order(ByteOrder.LITTLE_ENDIAN);
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        b.putFloat(100 * r + c);
      }
    }
    return b.array();
  }

  private Path gguf(GgufFixture f) throws Exception {
    Path file = tmp.resolve("m" + System.nanoTime() + ".gguf");
    f.write(file);
    return file;
  }

  /** The first column of each row of a safetensors tensor, i.e. which GGUF row it came from. */
  private static List<Integer> sourceRows(Path st, String name) throws Exception {
    byte[] all = Files.readAllBytes(st);
    ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
    int headerLen = (int) b.getLong(0);
    JsonNode t = JSON.readTree(new String(all, 8, headerLen, "UTF-8")).get(name);
    int rows = t.get("shape").get(0).asInt();
    int cols = t.get("shape").get(1).asInt();
    int start = 8 + headerLen + t.get("data_offsets").get(0).asInt();
    List<Integer> out = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      out.add((int) b.getFloat(start + 4 * r * cols) / 100);
    }
    return out;
  }

  @Test
  void writesAHuggingFaceLlamaDirectory() throws Exception {
    Path dir = tmp.resolve("out");
    GgufToHf.Result r = GgufToHf.convert(GgufFile.open(gguf(tiny())), dir, line -> {});
    assertThat(r.tensors()).isEqualTo(11);

    JsonNode config = JSON.readTree(dir.resolve("config.json").toFile());
    assertThat(config.get("architectures").get(0).asText()).isEqualTo("LlamaForCausalLM");
    assertThat(config.get("num_attention_heads").asInt()).isEqualTo(2);
    assertThat(config.get("num_key_value_heads").asInt()).isEqualTo(1);
    assertThat(config.get("head_dim").asInt()).isEqualTo(4);
    assertThat(config.get("tie_word_embeddings").asBoolean()).isTrue(); // no output.weight
    assertThat(config.get("eos_token_id").asInt()).isEqualTo(1);
    assertThat(config.get("rms_norm_eps").asDouble()).isEqualTo((double) 1e-5f);

    Path st = dir.resolve("model.safetensors");
    // llama.cpp interleaves each head's rotary halves; HF row j*2 + i is GGUF row 2i + j per head
    assertThat(sourceRows(st, "model.layers.0.self_attn.q_proj.weight"))
        .containsExactly(0, 2, 1, 3, 4, 6, 5, 7);
    assertThat(sourceRows(st, "model.layers.0.self_attn.k_proj.weight"))
        .containsExactly(0, 2, 1, 3);
    assertThat(sourceRows(st, "model.layers.0.self_attn.v_proj.weight"))
        .containsExactly(0, 1, 2, 3);
    assertThat(sourceRows(st, "model.embed_tokens.weight")).containsExactly(0, 1, 2, 3, 4, 5);

    JsonNode tok = JSON.readTree(dir.resolve("tokenizer.json").toFile());
    assertThat(tok.at("/model/vocab/ab").asInt()).isEqualTo(4);
    assertThat(tok.at("/model/merges/0").asText()).isEqualTo("a b");
    assertThat(tok.at("/pre_tokenizer/pretokenizers/0/type").asText()).isEqualTo("Digits");
    assertThat(tok.get("added_tokens")).hasSize(2);
    assertThat(tok.at("/added_tokens/1/content").asText()).isEqualTo("</s>");
    JsonNode tc = JSON.readTree(dir.resolve("tokenizer_config.json").toFile());
    assertThat(tc.get("chat_template").asText()).isEqualTo("{{ messages[0]['content'] }}");
    assertThat(tc.get("eos_token").asText()).isEqualTo("</s>");
    assertThat(tc.get("bos_token").asText()).isEqualTo("<s>");
    assertThat(tc.get("add_bos_token").asBoolean()).isFalse();
  }

  @Test
  void refusesWhatItDoesNotConvert() throws Exception {
    Path qwen = gguf(tiny().put("general.architecture", "qwen2"));
    assertThatThrownBy(() -> GgufToHf.convert(GgufFile.open(qwen), tmp.resolve("a"), l -> {}))
        .isInstanceOf(GgufException.class)
        .hasMessageContaining("is a 'qwen2' model; only 'llama'");
    Path spm = gguf(tiny().put("tokenizer.ggml.model", "llama"));
    assertThatThrownBy(() -> GgufToHf.convert(GgufFile.open(spm), tmp.resolve("b"), l -> {}))
        .hasMessageContaining("tokenizer.ggml.model is 'llama'");
    GgufFixture k = tiny();
    k.tensors.removeIf(t -> t.name().equals("blk.0.ffn_down.weight"));
    k.tensor("blk.0.ffn_down.weight", new long[] {256, 1}, 14, new byte[210]);
    Path q6 = gguf(k);
    assertThatThrownBy(() -> GgufToHf.convert(GgufFile.open(q6), tmp.resolve("c"), l -> {}))
        .hasMessageContaining("tensor blk.0.ffn_down.weight is Q6_K");
    assertThat(tmp.resolve("c")).doesNotExist(); // refused before anything is written
  }

  @Test
  void cliConvertsAndReportsErrorsInOneLine() throws Exception {
    Path file = gguf(tiny());
    CliRun ok = CliRun.of("import-gguf", "--quiet", file.toString(), tmp.resolve("d").toString());
    assertThat(ok.exit()).isZero();
    assertThat(ok.out()).contains("architecture=llama tensors=11");
    CliRun again = CliRun.of("import-gguf", file.toString(), tmp.resolve("d").toString());
    assertThat(again.exit()).isEqualTo(1);
    assertThat(again.err()).startsWith("error: ").contains("is not empty").doesNotContain("\tat ");
  }
}
