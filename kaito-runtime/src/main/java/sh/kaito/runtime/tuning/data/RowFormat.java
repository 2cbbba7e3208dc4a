package sh.kaito.runtime.tuning.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import sh.kaito.runtime.tokenizer.ChatTemplate.Message;

/**
 * The dataset shapes TRL's {@code SFTTrainer} understands, told apart by column names as TRL does:
 * {@code prompt}/{@code completion} first (conversational when the prompt is a list of messages),
 * then {@code messages} (or ShareGPT's {@code conversations} of {@code from}/{@code value}), then
 * the text column ({@code dataset_text_field}, {@code text} by default).
 */
public enum RowFormat {
  /** Plain text: language modeling on every token, EOS appended. */
  TEXT,
  /** An OpenAI-style conversation rendered with the chat template. */
  MESSAGES,
  /** A text prompt and completion, loss on the completion by default, EOS appended. */
  PROMPT_COMPLETION,
  /** A prompt and a completion that are lists of messages, rendered with the chat template. */
  CONVERSATIONAL_PROMPT_COMPLETION;

  private static final Set<String> ROLES = Set.of("system", "user", "assistant");

  public boolean conversational() {
    return this == MESSAGES || this == CONVERSATIONAL_PROMPT_COMPLETION;
  }

  /** The format of a file, from its first row's columns. */
  static RowFormat detect(ObjectNode first, String textField, java.nio.file.Path file) {
    if (first.has("prompt")) {
      if (!first.has("completion")) {
        throw new DatasetException(
            file, "has a prompt column but no completion column " + columns(first));
      }
      return first.get("prompt").isArray() ? CONVERSATIONAL_PROMPT_COMPLETION : PROMPT_COMPLETION;
    }
    if (first.has("messages") || first.has("conversations")) {
      return MESSAGES;
    }
    if (first.has(textField)) {
      return TEXT;
    }
    throw new DatasetException(
        file,
        "no column messages, prompt and completion, or "
            + textField
            + " (TRL's dataset formats) "
            + columns(first));
  }

  private static String columns(ObjectNode row) {
    List<String> names = new ArrayList<>();
    row.fieldNames().forEachRemaining(names::add);
    return "(columns: " + String.join(", ", names) + ")";
  }

  /** A string column; null or another type is the row's error. */
  static String text(ObjectNode row, String column, java.nio.file.Path file, long rowNumber) {
    JsonNode v = row.get(column);
    if (v == null || v.isNull()) {
      throw new DatasetException(file, rowNumber, column + " is missing");
    }
    if (!v.isTextual()) {
      throw new DatasetException(file, rowNumber, column + " is not a string: " + abbreviate(v));
    }
    return v.textValue();
  }

  /** A list of {role, content} messages (or {from, value}); roles system, user, assistant. */
  static List<Message> messages(
      ObjectNode row, String column, java.nio.file.Path file, long rowNumber) {
    JsonNode v = row.get(column);
    if (column.equals("messages") && (v == null || v.isNull()) && row.has("conversations")) {
      column = "conversations";
      v = row.get(column);
    }
    if (v == null || v.isNull()) {
      throw new DatasetException(file, rowNumber, column + " is missing");
    }
    if (!v.isArray()) {
      throw new DatasetException(
          file, rowNumber, column + " is not a list of messages: " + abbreviate(v));
    }
    if (v.isEmpty()) {
      throw new DatasetException(file, rowNumber, column + " is an empty list of messages");
    }
    List<Message> out = new ArrayList<>();
    Iterator<JsonNode> it = v.elements();
    for (int i = 0; it.hasNext(); i++) {
      JsonNode m = it.next();
      String where = column + "[" + i + "]";
      if (!m.isObject()) {
        throw new DatasetException(file, rowNumber, where + " is not a message: " + abbreviate(m));
      }
      JsonNode role = m.hasNonNull("role") ? m.get("role") : m.get("from");
      JsonNode content = m.has("content") ? m.get("content") : m.get("value");
      if (role == null || role.isNull() || !role.isTextual()) {
        throw new DatasetException(file, rowNumber, where + " has no role");
      }
      if (!ROLES.contains(role.textValue())) {
        throw new DatasetException(
            file,
            rowNumber,
            where
                + ".role '"
                + role.textValue()
                + "' is not a known role (system, user or assistant)");
      }
      if (m.hasNonNull("tool_calls")
          && !(m.get("tool_calls").isArray() && m.get("tool_calls").isEmpty())) {
        throw new DatasetException(
            file, rowNumber, where + " has tool_calls, which are not supported");
      }
      if (content == null || content.isNull()) {
        throw new DatasetException(file, rowNumber, where + ".content is missing");
      }
      if (!content.isTextual()) {
        throw new DatasetException(
            file, rowNumber, where + ".content is not a string: " + abbreviate(content));
      }
      out.add(new Message(role.textValue(), content.textValue()));
    }
    return out;
  }

  private static String abbreviate(JsonNode v) {
    String s = v.toString();
    return s.length() > 80 ? s.substring(0, 77) + "..." : s;
  }
}
