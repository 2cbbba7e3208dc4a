package sh.kaito.runtime.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import sh.kaito.runtime.model.ModelFormatException;

/**
 * A model directory's tokenizer: {@code tokenizer.json} through DJL's HF tokenizers binding, plus
 * the chat template and special tokens of {@code tokenizer_config.json} (or {@code
 * chat_template.jinja}, where newer transformers saves the template).
 */
public final class TextTokenizer implements AutoCloseable {

  /** Token ids with the span of text each token covers (Java string indices, end exclusive). */
  public record Encoded(long[] ids, int[] starts, int[] ends) {}

  private final HuggingFaceTokenizer tokenizer;
  private final ChatTemplate chatTemplate;
  private final Map<String, String> specialTokens;

  private TextTokenizer(
      HuggingFaceTokenizer tokenizer, ChatTemplate chatTemplate, Map<String, String> special) {
    this.tokenizer = tokenizer;
    this.chatTemplate = chatTemplate;
    this.specialTokens = Map.copyOf(special);
  }

  public static TextTokenizer load(Path dir) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    if (!Files.isRegularFile(file)) {
      throw new ModelFormatException("no tokenizer.json in " + dir);
    }
    HuggingFaceTokenizer tokenizer =
        HuggingFaceTokenizer.builder()
            .optTokenizerPath(file)
            .optAddSpecialTokens(false)
            .optTruncation(false)
            .optPadding(false)
            .build();
    JsonNode config = new ObjectMapper().createObjectNode();
    Path configFile = dir.resolve("tokenizer_config.json");
    if (Files.isRegularFile(configFile)) {
      config = new ObjectMapper().readTree(configFile.toFile());
    }
    // A legacy save (no added_tokens_decoder in tokenizer_config.json) keeps its special tokens in
    // special_tokens_map.json, whose values transformers then prefers.
    JsonNode map = new ObjectMapper().createObjectNode();
    Path mapFile = dir.resolve("special_tokens_map.json");
    if (!config.has("added_tokens_decoder") && Files.isRegularFile(mapFile)) {
      map = new ObjectMapper().readTree(mapFile.toFile());
    }
    Map<String, String> special = new HashMap<>();
    for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
      JsonNode v = map.hasNonNull(key) ? map.get(key) : config.get(key);
      if (v != null && !v.isNull()) {
        special.put(key, v.isObject() ? v.path("content").asText() : v.asText());
      } else {
        special.put(key, "");
      }
    }
    String template = null;
    Path jinja = dir.resolve("chat_template.jinja");
    if (Files.isRegularFile(jinja)) {
      template = Files.readString(jinja);
    } else if (config.hasNonNull("chat_template")) {
      JsonNode t = config.get("chat_template");
      if (t.isArray()) { // named templates: use "default"
        for (JsonNode named : t) {
          if (named.path("name").asText().equals("default")) {
            template = named.path("template").asText();
          }
        }
      } else {
        template = t.asText();
      }
    }
    return new TextTokenizer(
        tokenizer, template == null ? null : new ChatTemplate(template, special), special);
  }

  public long[] encode(String text, boolean addSpecialTokens) {
    return tokenizer.encode(text, addSpecialTokens, false).getIds();
  }

  /**
   * Encodes with each token's character span. The tokenizers library reports spans in Unicode code
   * points; they are converted to Java string indices here.
   */
  public Encoded encodeWithSpans(String text, boolean addSpecialTokens) {
    var encoding = tokenizer.encode(text, addSpecialTokens, false);
    var spans = encoding.getCharTokenSpans();
    long[] ids = encoding.getIds();
    int[] starts = new int[ids.length];
    int[] ends = new int[ids.length];
    boolean bmpOnly = text.codePointCount(0, text.length()) == text.length();
    for (int i = 0; i < ids.length; i++) {
      int start = spans[i] == null ? -1 : spans[i].getStart();
      int end = spans[i] == null ? -1 : spans[i].getEnd();
      starts[i] = start < 0 || bmpOnly ? start : text.offsetByCodePoints(0, start);
      ends[i] = end < 0 || bmpOnly ? end : text.offsetByCodePoints(0, end);
    }
    return new Encoded(ids, starts, ends);
  }

  /** A special token's text from {@code tokenizer_config.json} ({@code eos_token}, ...), if set. */
  public Optional<String> specialToken(String name) {
    String v = specialTokens.get(name);
    return v == null || v.isEmpty() ? Optional.empty() : Optional.of(v);
  }

  /** A chat template given as text, with this tokenizer's special tokens. */
  public ChatTemplate chatTemplate(String template) {
    return new ChatTemplate(template, specialTokens);
  }

  public String decode(long[] ids, boolean skipSpecialTokens) {
    return tokenizer.decode(ids, skipSpecialTokens);
  }

  public Optional<ChatTemplate> chatTemplate() {
    return Optional.ofNullable(chatTemplate);
  }

  /** The prompt ids of a conversation, as HF's {@code apply_chat_template(tokenize=True)}. */
  public long[] encodeChat(List<ChatTemplate.Message> messages, boolean addGenerationPrompt) {
    ChatTemplate t =
        chatTemplate()
            .orElseThrow(() -> new IllegalStateException("this tokenizer has no chat template"));
    return encode(t.render(messages, addGenerationPrompt), false);
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
