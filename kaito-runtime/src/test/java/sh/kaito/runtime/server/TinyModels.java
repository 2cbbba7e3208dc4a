package sh.kaito.runtime.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Writes a tiny random Llama model directory in pure Java (no Python): {@code config.json}, F32
 * {@code model.safetensors}, a byte-level BPE {@code tokenizer.json} (the 256 byte symbols of
 * GPT-2's ByteLevel alphabet, no merges, five special tokens), {@code tokenizer_config.json} with a
 * Phi-3 style chat template, and {@code generation_config.json}. Also PEFT LoRA adapters for it.
 * Every string round-trips through the tokenizer; random bytes decode lossily (U+FFFD), like a real
 * byte-level model's partial UTF-8.
 */
public final class TinyModels {

  static final int HIDDEN = 32;
  static final int INTERMEDIATE = 64;
  static final int LAYERS = 2;
  static final int HEADS = 4;
  static final int KV_HEADS = 2;
  static final int HEAD_DIM = HIDDEN / HEADS;
  static final List<String> SPECIAL =
      List.of("<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>");
  static final int VOCAB = 256 + SPECIAL.size();
  static final long EOS = 256; // <|endoftext|>
  static final long END = 260; // <|end|>, also an EOS id in generation_config.json

  /** Rejects roles other than system/user/assistant through raise_exception, as Mistral's does. */
  static final String CHAT_TEMPLATE =
      "{% for message in messages %}"
          + "{% if message['role'] != 'system' and message['role'] != 'user'"
          + " and message['role'] != 'assistant' %}"
          + "{{ raise_exception('Conversation roles must be system, user or assistant') }}"
          + "{% endif %}"
          + "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
          + "{% endfor %}"
          + "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

  private static final ObjectMapper JSON = new ObjectMapper();

  private TinyModels() {}

  /** Writes the model into {@code dir} (created) with weights drawn from {@code seed}. */
  public static Path model(Path dir, int contextLength, long seed) throws IOException {
    Files.createDirectories(dir);
    ObjectNode config = JSON.createObjectNode();
    config.putArray("architectures").add("LlamaForCausalLM");
    config
        .put("model_type", "llama")
        .put("hidden_size", HIDDEN)
        .put("intermediate_size", INTERMEDIATE)
        .put("num_hidden_layers", LAYERS)
        .put("num_attention_heads", HEADS)
        .put("num_key_value_heads", KV_HEADS)
        .put("vocab_size", VOCAB)
        .put("max_position_embeddings", contextLength)
        .put("rms_norm_eps", 1e-5)
        .put("rope_theta", 10000.0)
        .put("hidden_act", "silu")
        .put("tie_word_embeddings", false)
        .put("eos_token_id", EOS)
        .put("torch_dtype", "float32");
    JSON.writeValue(dir.resolve("config.json").toFile(), config);

    ObjectNode generation = JSON.createObjectNode();
    generation.putArray("eos_token_id").add(EOS).add(END);
    JSON.writeValue(dir.resolve("generation_config.json").toFile(), generation);

    Random r = new Random(seed);
    Map<String, float[][]> tensors = new LinkedHashMap<>();
    tensors.put("model.embed_tokens.weight", random(r, VOCAB, HIDDEN, 1.0f));
    for (int i = 0; i < LAYERS; i++) {
      String p = "model.layers." + i + ".";
      tensors.put(p + "input_layernorm.weight", ones(HIDDEN));
      tensors.put(p + "post_attention_layernorm.weight", ones(HIDDEN));
      tensors.put(p + "self_attn.q_proj.weight", random(r, HEADS * HEAD_DIM, HIDDEN, 0.3f));
      tensors.put(p + "self_attn.k_proj.weight", random(r, KV_HEADS * HEAD_DIM, HIDDEN, 0.3f));
      tensors.put(p + "self_attn.v_proj.weight", random(r, KV_HEADS * HEAD_DIM, HIDDEN, 0.3f));
      tensors.put(p + "self_attn.o_proj.weight", random(r, HIDDEN, HEADS * HEAD_DIM, 0.3f));
      tensors.put(p + "mlp.gate_proj.weight", random(r, INTERMEDIATE, HIDDEN, 0.3f));
      tensors.put(p + "mlp.up_proj.weight", random(r, INTERMEDIATE, HIDDEN, 0.3f));
      tensors.put(p + "mlp.down_proj.weight", random(r, HIDDEN, INTERMEDIATE, 0.3f));
    }
    tensors.put("model.norm.weight", ones(HIDDEN));
    tensors.put("lm_head.weight", random(r, VOCAB, HIDDEN, 1.0f));
    writeSafetensors(dir.resolve("model.safetensors"), tensors);

    JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tokenizer());
    ObjectNode tokConfig = JSON.createObjectNode();
    tokConfig
        .put("eos_token", "<|endoftext|>")
        .put("bos_token", "<|endoftext|>")
        .put("chat_template", CHAT_TEMPLATE)
        .put("tokenizer_class", "PreTrainedTokenizerFast");
    JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), tokConfig);
    return dir;
  }

  /**
   * A served tiny model under {@code root}: the model (seed 7) as {@code tiny} and two adapters,
   * {@code alpha} (seed 11, strength 1) and {@code beta} (seed 12, strength {@code betaStrength}).
   */
  static ModelSpec servedWithAdapters(Path root, int contextLength, float betaStrength)
      throws IOException {
    Path dir = model(root.resolve("tiny"), contextLength, 7);
    return new ModelSpec(
        dir,
        "tiny",
        List.of(
            new ModelSpec.AdapterSpec("alpha", adapter(root.resolve("adapters/alpha"), 11), 1f),
            new ModelSpec.AdapterSpec(
                "beta", adapter(root.resolve("adapters/beta"), 12), betaStrength)));
  }

  /**
   * Writes a PEFT LoRA adapter (r 4, alpha 8) on q_proj and v_proj of every layer, with non-zero
   * random A and B so that it changes the output.
   */
  public static Path adapter(Path dir, long seed) throws IOException {
    Files.createDirectories(dir);
    int rank = 4;
    ObjectNode config = JSON.createObjectNode();
    config
        .put("peft_type", "LORA")
        .put("task_type", "CAUSAL_LM")
        .put("r", rank)
        .put("lora_alpha", 8)
        .put("lora_dropout", 0.0)
        .put("bias", "none")
        .put("use_rslora", false);
    config.putArray("target_modules").add("q_proj").add("v_proj");
    JSON.writeValue(dir.resolve("adapter_config.json").toFile(), config);
    Random r = new Random(seed);
    Map<String, float[][]> tensors = new LinkedHashMap<>();
    for (int i = 0; i < LAYERS; i++) {
      String p = "base_model.model.model.layers." + i + ".self_attn.";
      tensors.put(p + "q_proj.lora_A.weight", random(r, rank, HIDDEN, 0.5f));
      tensors.put(p + "q_proj.lora_B.weight", random(r, HEADS * HEAD_DIM, rank, 0.5f));
      tensors.put(p + "v_proj.lora_A.weight", random(r, rank, HIDDEN, 0.5f));
      tensors.put(p + "v_proj.lora_B.weight", random(r, KV_HEADS * HEAD_DIM, rank, 0.5f));
    }
    writeSafetensors(dir.resolve("adapter_model.safetensors"), tensors);
    return dir;
  }

  /** GPT-2's {@code bytes_to_unicode}: printable bytes map to themselves, the rest above 255. */
  static String[] byteSymbols() {
    String[] symbols = new String[256];
    int next = 256;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      symbols[b] = new String(Character.toChars(printable ? b : next++));
    }
    return symbols;
  }

  private static ObjectNode tokenizer() {
    ObjectNode t = JSON.createObjectNode();
    t.put("version", "1.0");
    t.putNull("truncation");
    t.putNull("padding");
    ArrayNode added = t.putArray("added_tokens");
    for (int i = 0; i < SPECIAL.size(); i++) {
      added
          .addObject()
          .put("id", 256 + i)
          .put("content", SPECIAL.get(i))
          .put("single_word", false)
          .put("lstrip", false)
          .put("rstrip", false)
          .put("normalized", false)
          .put("special", true);
    }
    t.putNull("normalizer");
    t.putObject("pre_tokenizer")
        .put("type", "ByteLevel")
        .put("add_prefix_space", false)
        .put("trim_offsets", true)
        .put("use_regex", true);
    t.putNull("post_processor");
    t.putObject("decoder")
        .put("type", "ByteLevel")
        .put("add_prefix_space", true)
        .put("trim_offsets", true)
        .put("use_regex", true);
    ObjectNode model = t.putObject("model");
    model
        .put("type", "BPE")
        .putNull("dropout")
        .putNull("unk_token")
        .putNull("continuing_subword_prefix")
        .putNull("end_of_word_suffix")
        .put("fuse_unk", false)
        .put("byte_fallback", false)
        .put("ignore_merges", false);
    ObjectNode vocab = model.putObject("vocab");
    String[] symbols = byteSymbols();
    for (int b = 0; b < 256; b++) {
      vocab.put(symbols[b], b);
    }
    model.putArray("merges");
    return t;
  }

  private static float[][] random(Random r, int rows, int cols, float std) {
    float[][] m = new float[rows][cols];
    for (float[] row : m) {
      for (int j = 0; j < cols; j++) {
        row[j] = (float) r.nextGaussian() * std;
      }
    }
    return m;
  }

  private static float[][] ones(int n) {
    float[][] m = new float[1][n];
    java.util.Arrays.fill(m[0], 1f);
    return m;
  }

  /** Rows of one-row tensors are written as 1-D (norm weights), others as 2-D. */
  private static void writeSafetensors(Path file, Map<String, float[][]> tensors)
      throws IOException {
    ObjectNode header = JSON.createObjectNode();
    header.putObject("__metadata__").put("format", "pt");
    long offset = 0;
    for (var e : tensors.entrySet()) {
      float[][] m = e.getValue();
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", "F32");
      boolean vector = e.getKey().endsWith("norm.weight");
      ArrayNode shape = t.putArray("shape");
      if (vector) {
        shape.add(m[0].length);
      } else {
        shape.add(m.length).add(m[0].length);
      }
      long bytes = 4L * m.length * m[0].length;
      t.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] h = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int padded = (h.length + 7) / 8 * 8;
    try (OutputStream out = Files.newOutputStream(file)) {
      ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
      head.putLong(padded).put(h);
      while (head.hasRemaining()) {
        head.put((byte) ' ');
      }
      out.write(head.array());
      for (float[][] m : tensors.values()) {
        ByteBuffer data =
            ByteBuffer.allocate(4 * m.length * m[0].length).order(ByteOrder.LITTLE_ENDIAN);
        for (float[] row : m) {
          for (float v : row) {
            data.putFloat(v);
          }
        }
        out.write(data.array());
      }
    }
  }
}
