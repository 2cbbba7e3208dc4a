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

  private final HuggingFaceTokenizer tokenizer;
  private final ChatTemplate chatTemplate;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, ChatTemplate chatTemplate) {
    this.tokenizer = tokenizer;
    this.chatTemplate = chatTemplate;
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
    Map<String, String> special = new HashMap<>();
    for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
      JsonNode v = config.get(key);
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
        tokenizer, template == null ? null : new ChatTemplate(template, special));
  }

  public long[] encode(String text, boolean addSpecialTokens) {
    return tokenizer.encode(text, addSpecialTokens, false).getIds();
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
