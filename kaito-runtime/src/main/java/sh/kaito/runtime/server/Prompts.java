package sh.kaito.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import sh.kaito.runtime.tokenizer.ChatTemplate;

/** Prompts from request fields, tokenized and checked against the model's context. */
final class Prompts {

  private Prompts() {}

  /**
   * A conversation: a non-empty list of {@code {"role", "content"}} objects; content is a string or
   * OpenAI's list of {@code {"type":"text","text"}} parts (joined with newlines, as vLLM does).
   */
  static List<ChatTemplate.Message> messages(JsonFields request, String field) {
    JsonNode v = request.value(field);
    if (v == null) {
      throw ApiException.badRequest("'" + field + "' is required", field);
    }
    if (!v.isArray()) {
      throw request.wrongType(field, "a list of messages", v);
    }
    if (v.isEmpty()) {
      throw ApiException.badRequest("'" + field + "' must contain at least one message", field);
    }
    List<ChatTemplate.Message> out = new ArrayList<>();
    for (int i = 0; i < v.size(); i++) {
      String at = field + "[" + i + "]";
      JsonNode m = v.get(i);
      if (!m.isObject()) {
        throw ApiException.badRequest(
            "'" + at + "' must be an object with role and content, got " + JsonFields.kind(m), at);
      }
      JsonNode role = m.get("role");
      if (role == null || !role.isTextual() || role.asText().isBlank()) {
        throw ApiException.badRequest("'" + at + ".role' must be a non-empty string", at + ".role");
      }
      out.add(new ChatTemplate.Message(role.asText(), content(m.get("content"), at + ".content")));
    }
    return out;
  }

  private static String content(JsonNode c, String at) {
    if (c == null || c.isNull()) {
      return "";
    }
    if (c.isTextual()) {
      return c.asText();
    }
    if (!c.isArray()) {
      throw ApiException.badRequest(
          "'" + at + "' must be a string or a list of text parts, got " + JsonFields.kind(c), at);
    }
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < c.size(); i++) {
      JsonNode part = c.get(i);
      String type = part.path("type").asText("");
      if (!type.equals("text") || !part.path("text").isTextual()) {
        throw ApiException.badRequest(
            "'"
                + at
                + "["
                + i
                + "]' must be {\"type\": \"text\", \"text\": \"...\"}; this model takes text only"
                + (type.isEmpty() ? "" : " (got type '" + type + "')"),
            at);
      }
      texts.add(part.get("text").asText());
    }
    return String.join("\n", texts);
  }

  /** The prompt ids of a conversation through the model's chat template. */
  static long[] chat(ServedModel model, List<ChatTemplate.Message> messages, String param) {
    if (model.tokenizer().chatTemplate().isEmpty()) {
      throw ApiException.badRequest(
          "model "
              + model.name()
              + " has no chat template (tokenizer_config.json chat_template or"
              + " chat_template.jinja); send a plain prompt instead",
          param);
    }
    StringBuilder contents = new StringBuilder();
    messages.forEach(m -> contents.append(m.content()).append('\n'));
    refuseIfLongerThanTheContext(model, contents.toString(), param);
    long[] ids;
    try {
      ids = model.tokenizer().encodeChat(messages, true);
    } catch (ChatTemplate.ChatTemplateException e) {
      throw ApiException.badRequest(
          "the model's chat template rejected the messages: " + e.getMessage(), param);
    }
    return nonEmpty(ids, param);
  }

  static long[] text(ServedModel model, String text, String param) {
    refuseIfLongerThanTheContext(model, text, param);
    return nonEmpty(model.tokenizer().encode(text, true), param);
  }

  /** Text longer than this is counted in pieces of this size before it is tokenized whole. */
  static final int PROBE_CHARS = 32_768;

  /**
   * Tokenizing grows faster than the text (HF tokenizers here: 0.5 s for 100k characters, 3 s for
   * 400k), so a body of megabytes would hold a request thread for minutes. Text past {@link
   * #PROBE_CHARS} is first tokenized in pieces, and refused as soon as the pieces hold more tokens
   * than the context (less one a piece: a cut can split one token in two), without reading the
   * rest. Text that fits is then tokenized whole, as before.
   */
  static void refuseIfLongerThanTheContext(ServedModel model, String text, String param) {
    if (text.length() <= PROBE_CHARS) {
      return;
    }
    int context = model.contextLength();
    long tokens = 0;
    int pieces = 0;
    for (int at = 0; at < text.length(); ) {
      int end = Math.min(text.length(), at + PROBE_CHARS);
      if (end < text.length() && Character.isHighSurrogate(text.charAt(end - 1))) {
        end--;
      }
      tokens += model.tokenizer().encode(text.substring(at, end), false).length;
      pieces++;
      if (tokens - pieces > context) {
        throw ApiException.badRequest(
            "This model's maximum context length is "
                + context
                + " tokens. However, the prompt is longer: its first "
                + end
                + " of "
                + text.length()
                + " characters are already more than "
                + (tokens - pieces)
                + " tokens. Please reduce the length of the prompt.",
            param,
            "context_length_exceeded");
      }
      at = end;
    }
  }

  /** Token ids given by the client: each must be in the vocabulary. */
  static long[] ids(ServedModel model, JsonNode array, String param) {
    long[] ids = new long[array.size()];
    for (int i = 0; i < ids.length; i++) {
      JsonNode t = array.get(i);
      if (!t.isIntegralNumber() || t.asLong() < 0 || t.asLong() >= model.vocabSize()) {
        throw ApiException.badRequest(
            "'"
                + param
                + "' token "
                + t
                + " is not an id in this model's vocabulary [0, "
                + model.vocabSize()
                + ")",
            param);
      }
      ids[i] = t.asLong();
    }
    return nonEmpty(ids, param);
  }

  private static long[] nonEmpty(long[] ids, String param) {
    if (ids.length == 0) {
      throw ApiException.badRequest("'" + param + "' is empty: it encodes to no tokens", param);
    }
    return ids;
  }

  /**
   * How many tokens to generate: {@code requested}, or what is left of the context (vLLM's
   * default). A prompt that leaves no room, or a request past the context, is refused with the
   * numbers.
   */
  static int maxNewTokens(ServedModel model, int promptTokens, Integer requested, String param) {
    int context = model.contextLength();
    if (requested == null) {
      if (promptTokens >= context) {
        throw contextExceeded(context, promptTokens, 1, param);
      }
      return context - promptTokens;
    }
    if ((long) promptTokens + requested > context) {
      throw contextExceeded(context, promptTokens, requested, param);
    }
    return requested;
  }

  static ApiException contextExceeded(int context, int prompt, int completion, String param) {
    return ApiException.badRequest(
        "This model's maximum context length is "
            + context
            + " tokens. However, you requested "
            + ((long) prompt + completion)
            + " tokens ("
            + prompt
            + " in the prompt, "
            + completion
            + " in the completion). Please reduce the length of the prompt or completion.",
        param,
        "context_length_exceeded");
  }
}
