package sh.kaito.presets.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a Llama-architecture GGUF into the Hugging Face model directory the runtime loads: {@code
 * config.json}, {@code generation_config.json}, {@code model.safetensors} (float32, dequantized as
 * gguf-py does), {@code tokenizer.json} and {@code tokenizer_config.json} (with the GGUF's chat
 * template). It does what transformers' GGUF loader does with the weights, including undoing the
 * Q/K row permutation llama.cpp's converter applies for its interleaved RoPE, so the directory
 * holds the same tensors as {@code from_pretrained(gguf_file=...)}.
 */
public final class GgufToHf {

  /** What a conversion wrote. */
  public record Result(Path dir, String architecture, int tensors, long weightBytes) {}

  private static final Pattern BLOCK = Pattern.compile("blk\\.(\\d+)\\.(.+)");
  private static final Map<String, String> LAYER_NAMES =
      Map.of(
          "attn_norm.weight", "input_layernorm.weight",
          "ffn_norm.weight", "post_attention_layernorm.weight",
          "attn_q.weight", "self_attn.q_proj.weight",
          "attn_k.weight", "self_attn.k_proj.weight",
          "attn_v.weight", "self_attn.v_proj.weight",
          "attn_output.weight", "self_attn.o_proj.weight",
          "ffn_gate.weight", "mlp.gate_proj.weight",
          "ffn_up.weight", "mlp.up_proj.weight",
          "ffn_down.weight", "mlp.down_proj.weight");
  private static final Map<String, String> TOP_NAMES =
      Map.of(
          "token_embd.weight", "model.embed_tokens.weight",
          "output_norm.weight", "model.norm.weight",
          "output.weight", "lm_head.weight");

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private GgufToHf() {}

  /**
   * Converts {@code gguf} into {@code dir}, which must be missing or empty.
   *
   * @param progress one line per written tensor group (may be a no-op)
   * @throws GgufException for an architecture, tensor type or tokenizer this converter does not
   *     handle, or a file that contradicts itself (names the key or tensor)
   */
  public static Result convert(GgufFile gguf, Path dir, Consumer<String> progress)
      throws IOException {
    String arch = gguf.string("general.architecture");
    if (!arch.equals("llama")) {
      throw new GgufException(
          gguf.path() + " is a '" + arch + "' model; only 'llama' GGUFs are converted");
    }
    if (Files.isDirectory(dir)) {
      try (var entries = Files.list(dir)) {
        if (entries.findAny().isPresent()) {
          throw new GgufException("output directory " + dir + " is not empty");
        }
      }
    }
    LlamaShape shape = LlamaShape.of(gguf);
    Map<String, GgufFile.TensorInfo> named = hfNames(gguf);
    Files.createDirectories(dir);
    ObjectNode config = config(gguf, shape, !named.containsKey("lm_head.weight"));
    writeJson(dir.resolve("config.json"), config);
    ObjectNode generation = JSON.createObjectNode();
    for (String k : List.of("bos_token_id", "eos_token_id", "pad_token_id")) {
      if (config.has(k)) {
        generation.set(k, config.get(k));
      }
    }
    writeJson(dir.resolve("generation_config.json"), generation);
    Tokenizers.write(gguf, shape.contextLength(), dir);
    long bytes = writeWeights(gguf, shape, named, dir.resolve("model.safetensors"), progress);
    return new Result(dir, arch, named.size(), bytes);
  }

  /** The numbers of {@code llama.*} a Llama config needs. */
  record LlamaShape(
      int layers,
      int hidden,
      int intermediate,
      int heads,
      int kvHeads,
      int headDim,
      int contextLength,
      int vocab,
      double ropeTheta,
      double rmsEps) {

    static LlamaShape of(GgufFile g) throws GgufException {
      int heads = (int) g.integer("llama.attention.head_count");
      int hidden = (int) g.integer("llama.embedding_length");
      int kvHeads =
          g.value("llama.attention.head_count_kv").isPresent()
              ? (int) g.integer("llama.attention.head_count_kv")
              : heads;
      int headDim =
          g.value("llama.attention.key_length").isPresent()
              ? (int) g.integer("llama.attention.key_length")
              : hidden / heads;
      int vocab =
          g.value("llama.vocab_size").isPresent()
              ? (int) g.integer("llama.vocab_size")
              : g.list("tokenizer.ggml.tokens", String.class).size();
      if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0 || headDim % 2 != 0) {
        throw new GgufException(
            g.path()
                + ": inconsistent attention shape (heads "
                + heads
                + ", kv heads "
                + kvHeads
                + ", head dim "
                + headDim
                + ")");
      }
      if (g.value("llama.rope.scaling.type").filter(t -> !"none".equals(t)).isPresent()) {
        throw new GgufException(
            g.path()
                + ": RoPE scaling '"
                + g.string("llama.rope.scaling.type")
                + "' is not converted; only unscaled RoPE is");
      }
      return new LlamaShape(
          (int) g.integer("llama.block_count"),
          hidden,
          (int) g.integer("llama.feed_forward_length"),
          heads,
          kvHeads,
          headDim,
          (int) g.integer("llama.context_length"),
          vocab,
          g.value("llama.rope.freq_base").isPresent() ? g.number("llama.rope.freq_base") : 1e4,
          g.number("llama.attention.layer_norm_rms_epsilon"));
    }
  }

  private static ObjectNode config(GgufFile g, LlamaShape s, boolean tied) throws GgufException {
    ObjectNode c = JSON.createObjectNode();
    c.putArray("architectures").add("LlamaForCausalLM");
    c.put("model_type", "llama");
    c.put("hidden_size", s.hidden());
    c.put("intermediate_size", s.intermediate());
    c.put("num_hidden_layers", s.layers());
    c.put("num_attention_heads", s.heads());
    c.put("num_key_value_heads", s.kvHeads());
    c.put("head_dim", s.headDim());
    c.put("hidden_act", "silu");
    c.put("max_position_embeddings", s.contextLength());
    c.put("rms_norm_eps", s.rmsEps());
    c.put("rope_theta", s.ropeTheta());
    c.putNull("rope_scaling");
    c.put("attention_bias", false);
    c.put("mlp_bias", false);
    c.put("tie_word_embeddings", tied);
    c.put("vocab_size", s.vocab());
    c.put("torch_dtype", "float32");
    for (String k : List.of("bos", "eos", "pad", "unknown")) {
      String key = "tokenizer.ggml." + k + "_token_id";
      if (g.value(key).isPresent()) {
        c.put((k.equals("unknown") ? "unk" : k) + "_token_id", g.integer(key));
      }
    }
    g.value("general.name").ifPresent(n -> c.put("_gguf_name", n.toString()));
    return c;
  }

  /** The tensors by their transformers names; every GGUF tensor must have one. */
  private static Map<String, GgufFile.TensorInfo> hfNames(GgufFile g) throws GgufException {
    Map<String, GgufFile.TensorInfo> out = new LinkedHashMap<>();
    for (GgufFile.TensorInfo t : g.tensors().values()) {
      String name = TOP_NAMES.get(t.name());
      Matcher m = BLOCK.matcher(t.name());
      if (name == null && m.matches() && LAYER_NAMES.containsKey(m.group(2))) {
        name = "model.layers." + m.group(1) + "." + LAYER_NAMES.get(m.group(2));
      }
      if (name == null) {
        if (t.name().equals("rope_freqs.weight")) {
          throw new GgufException(
              g.path() + " has rope_freqs.weight (scaled RoPE), which is not converted");
        }
        throw new GgufException(g.path() + ": unexpected tensor " + t.name() + " in a llama GGUF");
      }
      g.checkDequantizable(t);
      out.put(name, t);
    }
    if (!out.containsKey("model.embed_tokens.weight")) {
      throw new GgufException(g.path() + " has no token_embd.weight");
    }
    return out;
  }

  private static long writeWeights(
      GgufFile g,
      LlamaShape s,
      Map<String, GgufFile.TensorInfo> named,
      Path file,
      Consumer<String> progress)
      throws IOException {
    ObjectNode header = JSON.createObjectNode();
    header.putObject("__metadata__").put("format", "pt");
    long offset = 0;
    for (var e : named.entrySet()) {
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", "F32");
      ArrayNode shape = t.putArray("shape");
      for (long d : e.getValue().shape()) {
        shape.add(d);
      }
      long bytes = 4 * e.getValue().elements();
      t.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] h = new ObjectMapper().writeValueAsBytes(header);
    int padded = (h.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(h);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    Path partial = file.resolveSibling(file.getFileName() + ".partial");
    boolean written = false;
    try (OutputStream out = Files.newOutputStream(partial)) {
      out.write(head.array());
      int done = 0;
      for (var e : named.entrySet()) {
        float[] values = g.floats(e.getValue());
        if (e.getKey().endsWith("q_proj.weight")) {
          values = unpermuteRows(values, s.heads(), s.headDim());
        } else if (e.getKey().endsWith("k_proj.weight")) {
          values = unpermuteRows(values, s.kvHeads(), s.headDim());
        }
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        out.write(b.array());
        if (++done % 50 == 0 || done == named.size()) {
          progress.accept(String.format("convert %d/%d tensors", done, named.size()));
        }
      }
      written = true;
    } finally {
      if (!written) {
        Files.deleteIfExists(partial);
      }
    }
    Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return offset;
  }

  /**
   * Undoes llama.cpp's {@code permute} of a Q or K projection ({@code [heads * headDim, in]}, row
   * major): HF row {@code h*headDim + j*headDim/2 + i} is GGUF row {@code h*headDim + 2i + j}, as
   * transformers' {@code reshape(n_head, headDim/2, 2, in).swapaxes(1, 2)} computes it.
   */
  static float[] unpermuteRows(float[] w, int heads, int headDim) throws GgufException {
    int half = headDim / 2;
    if (w.length % (heads * headDim) != 0) {
      throw new GgufException(
          "a Q/K projection of " + w.length + " values does not split into " + heads + " heads");
    }
    int cols = w.length / (heads * headDim);
    float[] out = new float[w.length];
    for (int h = 0; h < heads; h++) {
      for (int j = 0; j < 2; j++) {
        for (int i = 0; i < half; i++) {
          int src = h * headDim + 2 * i + j;
          int dst = h * headDim + j * half + i;
          System.arraycopy(w, src * cols, out, dst * cols, cols);
        }
      }
    }
    return out;
  }

  static void writeJson(Path file, Object node) throws IOException {
    Files.write(file, (JSON.writeValueAsString(node) + "\n").getBytes(StandardCharsets.UTF_8));
  }
}
