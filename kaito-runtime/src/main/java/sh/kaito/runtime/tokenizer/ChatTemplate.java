package sh.kaito.runtime.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face chat template (Jinja) rendered with Jinjava under the settings HF's {@code
 * apply_chat_template} uses: {@code trim_blocks}, {@code lstrip_blocks}, and a {@code
 * raise_exception} function that rejects the conversation.
 */
public final class ChatTemplate {

  /** A message of the conversation (role: system, user or assistant). */
  public record Message(String role, String content) {}

  /** The template rejected the conversation (its {@code raise_exception}) or could not render. */
  public static final class ChatTemplateException extends IllegalArgumentException {
    ChatTemplateException(String message) {
      super(message);
    }
  }

  private final String template;
  private final Map<String, Object> specialTokens;
  private final Jinjava jinjava;

  /**
   * @param specialTokens values such as {@code bos_token} and {@code eos_token} the template reads
   */
  public ChatTemplate(String template, Map<String, String> specialTokens) {
    this.template = template;
    this.specialTokens = Map.copyOf(specialTokens);
    this.jinjava =
        new Jinjava(
            JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withFailOnUnknownTokens(false)
                .build());
    jinjava
        .getGlobalContext()
        .registerFunction(
            new ELFunctionDefinition(
                "", "raise_exception", ChatTemplate.class, "raiseException", String.class));
  }

  /** Called by templates; the message reaches the caller as a {@link ChatTemplateException}. */
  public static String raiseException(String message) {
    throw new ChatTemplateException(message);
  }

  public String template() {
    return template;
  }

  /** Renders the conversation as the model's prompt text. */
  public String render(List<Message> messages, boolean addGenerationPrompt) {
    Map<String, Object> context = new HashMap<>(specialTokens);
    context.put(
        "messages",
        messages.stream().map(m -> Map.of("role", m.role(), "content", m.content())).toList());
    context.put("add_generation_prompt", addGenerationPrompt);
    RenderResult result = jinjava.renderForResult(template, context);
    for (TemplateError e : result.getErrors()) {
      if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
        Throwable cause = e.getException();
        while (cause != null && !(cause instanceof ChatTemplateException)) {
          cause = cause.getCause();
        }
        if (cause != null) {
          throw (ChatTemplateException) cause;
        }
        String message = e.getMessage();
        if (message != null && message.contains("ChatTemplateException")) {
          throw new ChatTemplateException(message.substring(message.lastIndexOf(':') + 1).trim());
        }
        throw new ChatTemplateException("chat template failed: " + message);
      }
    }
    return result.getOutput();
  }
}
