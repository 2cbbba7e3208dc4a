package sh.kaito.runtime.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face chat template (Jinja) rendered with Jinjava under the settings HF's {@code
 * apply_chat_template} uses: {@code trim_blocks}, {@code lstrip_blocks}, and a {@code
 * raise_exception} function that rejects the conversation. Like transformers, it understands the
 * {@code {% generation %}...{% endgeneration %}} block that training templates put around what the
 * assistant says, and can report where those blocks landed in the text ({@link #renderTracked}).
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

  /**
   * The text rendered with where each {@code {% generation %}} block's output starts and ends (Java
   * string indices, end exclusive), in order.
   */
  public record Tracked(String text, List<int[]> generationSpans) {}

  // Noncharacters that mark generation blocks in the output; never valid in exchanged text.
  private static final char GENERATION_START = '\uFDD0';
  private static final char GENERATION_END = '\uFDD1';

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
    jinjava.getGlobalContext().registerTag(new GenerationTag());
  }

  /** {@code {% generation %}}: renders its body between the two markers. */
  private static final class GenerationTag implements Tag {
    private static final long serialVersionUID = 1L;

    @Override
    public String getName() {
      return "generation";
    }

    @Override
    public String interpret(TagNode tagNode, com.hubspot.jinjava.interpret.JinjavaInterpreter in) {
      StringBuilder body = new StringBuilder().append(GENERATION_START);
      for (Node child : tagNode.getChildren()) {
        body.append(child.render(in).getValue());
      }
      return body.append(GENERATION_END).toString();
    }
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
    return renderTracked(messages, addGenerationPrompt).text();
  }

  /**
   * Renders the conversation and reports the spans of its {@code {% generation %}} blocks, as
   * transformers' {@code apply_chat_template(return_assistant_tokens_mask=True)} tracks them.
   */
  public Tracked renderTracked(List<Message> messages, boolean addGenerationPrompt) {
    for (Message m : messages) {
      if (m.content() != null
          && (m.content().indexOf(GENERATION_START) >= 0
              || m.content().indexOf(GENERATION_END) >= 0)) {
        throw new ChatTemplateException("message content holds a Unicode noncharacter (U+FDD0/1)");
      }
    }
    String marked = renderMarked(messages, addGenerationPrompt);
    StringBuilder text = new StringBuilder(marked.length());
    List<int[]> spans = new ArrayList<>();
    int start = -1;
    for (int i = 0; i < marked.length(); i++) {
      char c = marked.charAt(i);
      if (c == GENERATION_START) {
        start = text.length();
      } else if (c == GENERATION_END) {
        spans.add(new int[] {start, text.length()});
      } else {
        text.append(c);
      }
    }
    return new Tracked(text.toString(), List.copyOf(spans));
  }

  private String renderMarked(List<Message> messages, boolean addGenerationPrompt) {
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
