package sh.kaito.presets.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The GGUF's GPT-2 style byte-level BPE ({@code tokenizer.ggml.model = gpt2}: tokens, merges, token
 * types, special token ids) as a Hugging Face {@code tokenizer.json} and {@code
 * tokenizer_config.json}, with the chat template from {@code tokenizer.chat_template}. The
 * pre-tokenizer follows {@code tokenizer.ggml.pre}: llama.cpp's names for the HF pre-tokenizers it
 * recognised when the GGUF was made.
 */
final class Tokenizers {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** GGUF {@code tokenizer.ggml.token_type} values (llama.cpp {@code llama_token_type}). */
  private static final long TOKEN_CONTROL = 3;

  private static final long TOKEN_USER_DEFINED = 4;

  private Tokenizers() {}

  static void write(GgufFile g, int contextLength, Path dir) throws IOException {
    String model = g.string("tokenizer.ggml.model");
    if (!model.equals("gpt2")) {
      throw new GgufException(
          g.path()
              + ": tokenizer.ggml.model is '"
              + model
              + "'; only GPT-2 style byte-level BPE ('gpt2') is converted");
    }
    List<String> tokens = g.list("tokenizer.ggml.tokens", String.class);
    List<String> merges = g.list("tokenizer.ggml.merges", String.class);
    List<Long> types =
        g.value("tokenizer.ggml.token_type").isPresent()
            ? g.list("tokenizer.ggml.token_type", Long.class)
            : List.of();
    if (!types.isEmpty() && types.size() != tokens.size()) {
      throw new GgufException(
          g.path()
              + ": tokenizer.ggml.token_type has "
              + types.size()
              + " entries for "
              + tokens.size()
              + " tokens");
    }
    String pre = g.value("tokenizer.ggml.pre").map(Object::toString).orElse("default");
    boolean addBos = flag(g, "tokenizer.ggml.add_bos_token");
    boolean addEos = flag(g, "tokenizer.ggml.add_eos_token");
    Optional<String> bos = special(g, tokens, "bos");
    Optional<String> eos = special(g, tokens, "eos");

    ObjectNode tj = JSON.createObjectNode();
    tj.put("version", "1.0");
    tj.putNull("truncation");
    tj.putNull("padding");
    ArrayNode added = tj.putArray("added_tokens");
    ObjectNode decoderTable = JSON.createObjectNode();
    for (int id = 0; id < types.size(); id++) {
      long type = types.get(id);
      if (type == TOKEN_CONTROL || type == TOKEN_USER_DEFINED) {
        ObjectNode t = added.addObject();
        t.put("id", id);
        t.put("content", tokens.get(id));
        t.put("single_word", false).put("lstrip", false).put("rstrip", false);
        t.put("normalized", false).put("special", type == TOKEN_CONTROL);
        ObjectNode d = t.deepCopy();
        d.remove("id");
        decoderTable.set(String.valueOf(id), d);
      }
    }
    tj.putNull("normalizer");
    tj.set("pre_tokenizer", preTokenizer(g, pre));
    tj.set("post_processor", postProcessor(addBos ? bos : Optional.empty(), tokens));
    tj.set("decoder", byteLevel(true, true));
    ObjectNode bpe = tj.putObject("model");
    bpe.put("type", "BPE");
    bpe.putNull("dropout");
    bpe.putNull("unk_token");
    bpe.putNull("continuing_subword_prefix");
    bpe.putNull("end_of_word_suffix");
    bpe.put("fuse_unk", false);
    bpe.put("byte_fallback", false);
    ObjectNode vocab = bpe.putObject("vocab");
    for (int id = 0; id < tokens.size(); id++) {
      if (vocab.has(tokens.get(id))) {
        throw new GgufException(g.path() + ": token '" + tokens.get(id) + "' appears twice");
      }
      vocab.put(tokens.get(id), id);
    }
    ArrayNode m = bpe.putArray("merges");
    merges.forEach(m::add);
    GgufToHf.writeJson(dir.resolve("tokenizer.json"), tj);

    ObjectNode tc = JSON.createObjectNode();
    tc.put("add_bos_token", addBos);
    tc.put("add_eos_token", addEos);
    bos.ifPresent(t -> tc.put("bos_token", t));
    eos.ifPresent(t -> tc.put("eos_token", t));
    special(g, tokens, "unknown").ifPresent(t -> tc.put("unk_token", t));
    special(g, tokens, "padding").ifPresent(t -> tc.put("pad_token", t));
    g.value("tokenizer.chat_template").ifPresent(t -> tc.put("chat_template", t.toString()));
    tc.put("clean_up_tokenization_spaces", false);
    tc.put("model_max_length", contextLength);
    tc.put("tokenizer_class", "PreTrainedTokenizerFast");
    tc.set("added_tokens_decoder", decoderTable);
    GgufToHf.writeJson(dir.resolve("tokenizer_config.json"), tc);
  }

  private static ObjectNode preTokenizer(GgufFile g, String pre) throws GgufException {
    ObjectNode byteLevel = byteLevel(false, true);
    switch (pre) {
      case "default", "gpt2" -> {
        return byteLevel;
      }
      case "smollm" -> {
        // SmolLM's tokenizer.json: every digit its own pre-token, then byte-level (GPT-2 regex).
        ObjectNode seq = JSON.createObjectNode().put("type", "Sequence");
        ArrayNode list = seq.putArray("pretokenizers");
        list.addObject().put("type", "Digits").put("individual_digits", true);
        list.add(byteLevel);
        return seq;
      }
      default ->
          throw new GgufException(
              g.path()
                  + ": tokenizer.ggml.pre '"
                  + pre
                  + "' is not converted; known: default, gpt2, smollm");
    }
  }

  private static ObjectNode byteLevel(boolean addPrefixSpace, boolean trimOffsets) {
    return JSON.createObjectNode()
        .put("type", "ByteLevel")
        .put("add_prefix_space", addPrefixSpace)
        .put("trim_offsets", trimOffsets)
        .put("use_regex", true);
  }

  private static ObjectNode postProcessor(Optional<String> bos, List<String> tokens) {
    if (bos.isEmpty()) {
      return byteLevel(true, false);
    }
    ObjectNode p = JSON.createObjectNode().put("type", "TemplateProcessing");
    String b = bos.get();
    ArrayNode single = p.putArray("single");
    single.addObject().putObject("SpecialToken").put("id", b).put("type_id", 0);
    single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
    ArrayNode pair = p.putArray("pair");
    pair.addObject().putObject("SpecialToken").put("id", b).put("type_id", 0);
    pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
    pair.addObject().putObject("SpecialToken").put("id", b).put("type_id", 1);
    pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
    ObjectNode s = p.putObject("special_tokens").putObject(b);
    s.put("id", b);
    s.putArray("ids").add(tokens.indexOf(b));
    s.putArray("tokens").add(b);
    return p;
  }

  private static boolean flag(GgufFile g, String key) {
    return g.value(key).map(v -> v instanceof Boolean b && b).orElse(false);
  }

  /** The text of {@code tokenizer.ggml.<kind>_token_id}, if the GGUF names one. */
  private static Optional<String> special(GgufFile g, List<String> tokens, String kind)
      throws GgufException {
    String key = "tokenizer.ggml." + kind + "_token_id";
    if (g.value(key).isEmpty()) {
      return Optional.empty();
    }
    long id = g.integer(key);
    if (id < 0 || id >= tokens.size()) {
      throw new GgufException(
          g.path() + ": " + key + " " + id + " is outside the vocabulary of " + tokens.size());
    }
    return Optional.of(tokens.get((int) id));
  }
}
