package sh.kaito.runtime.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sh.kaito.runtime.Oracle;

/**
 * Chat templates of the Phi-3, Llama-3, Mistral and Qwen2 styles, saved with a tokenizer by
 * transformers, render to exactly the text (and token ids) of {@code apply_chat_template}.
 */
class ChatTemplateIT {

  private static Path work;
  private static JsonNode expected;

  @BeforeAll
  static void runOracle() throws Exception {
    work = Oracle.workDir("chat");
    Oracle.run(work, "chat", "--out", work.toString());
    expected = Oracle.readJson(work.resolve("expected.json"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"phi3", "llama3", "mistral", "qwen2"})
  void rendersLikeApplyChatTemplate(String family) throws Exception {
    try (TextTokenizer tokenizer = TextTokenizer.load(work.resolve(family))) {
      ChatTemplate template = tokenizer.chatTemplate().orElseThrow();
      for (JsonNode c : expected.get(family)) {
        List<ChatTemplate.Message> messages = new ArrayList<>();
        c.get("messages")
            .forEach(
                m ->
                    messages.add(
                        new ChatTemplate.Message(
                            m.get("role").asText(), m.get("content").asText())));
        boolean genPrompt = c.get("add_generation_prompt").asBoolean();
        if (c.has("error")) {
          assertThatThrownBy(() -> template.render(messages, genPrompt))
              .isInstanceOf(ChatTemplate.ChatTemplateException.class)
              .hasMessageContaining(c.get("error").asText());
          continue;
        }
        assertThat(template.render(messages, genPrompt))
            .as("%s %s", family, messages)
            .isEqualTo(c.get("text").asText());
        assertThat(tokenizer.encodeChat(messages, genPrompt))
            .as("token ids of %s %s", family, messages)
            .containsExactly(Oracle.longs(c.get("ids")));
      }
    }
  }
}
