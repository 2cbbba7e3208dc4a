package sh.kaito.runtime.tuning.data;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import sh.kaito.runtime.tokenizer.ChatTemplate;
import sh.kaito.runtime.tokenizer.ChatTemplate.Message;
import sh.kaito.runtime.tokenizer.TextTokenizer;
import sh.kaito.runtime.tuning.config.TrainingArguments;

/**
 * Turns rows into {@link TokenizedExample}s the way TRL's {@code SFTTrainer._prepare_dataset} does
 * (TRL 1.16, no packing):
 *
 * <ul>
 *   <li>text: EOS appended unless the text ends with it; tokenized with the tokenizer's special
 *       tokens (so a BOS where the tokenizer adds one); every token trained.
 *   <li>messages: rendered with the chat template, tokenized without special tokens (the template
 *       writes them); every token trained, or with {@code assistant_only_loss} only the text of the
 *       template's {@code {% generation %}} blocks.
 *   <li>prompt/completion: the completion gets EOS (text rows only); prompt and prompt + completion
 *       are tokenized separately and the completion starts where their ids first differ; only the
 *       completion is trained unless {@code completion_only_loss} is false.
 * </ul>
 *
 * Then truncation to {@code max_length} ({@code keep_start} or {@code keep_end}). TRL drops an
 * example left with no trained token; here that is an error naming the row, so that no row is lost
 * without the user knowing.
 */
final class SftPreparation {

  private static final Pattern GENERATION_MARKER =
      Pattern.compile("\\{%-?\\s*generation\\s*-?%\\}");

  private final TextTokenizer tokenizer;
  private final ChatTemplate template;
  private final TrainingArguments args;
  private final RowFormat format;
  private final String eosToken;
  private final boolean completionOnly;

  /**
   * @param templateOverride the config's chat template text, or null for the tokenizer's
   */
  SftPreparation(
      TextTokenizer tokenizer,
      String templateOverride,
      TrainingArguments args,
      RowFormat format,
      Path file) {
    this.tokenizer = tokenizer;
    this.args = args;
    this.format = format;
    this.eosToken =
        args.eosToken() != null
            ? args.eosToken()
            : tokenizer.specialToken("eos_token").orElse(null);
    if (args.eosToken() != null) {
      long[] ids = tokenizer.encode(args.eosToken(), false);
      if (ids.length != 1) {
        throw new DatasetException(
            file,
            "TrainingArguments.eos_token '"
                + args.eosToken()
                + "' is not a single token of the tokenizer's vocabulary");
      }
    }
    if (args.assistantOnlyLoss() && !format.conversational()) {
      throw new DatasetException(
          file,
          "TrainingArguments.assistant_only_loss needs conversational rows (messages, or prompt"
              + " and completion as lists of messages); this file has "
              + format.name().toLowerCase(java.util.Locale.ROOT)
              + " rows");
    }
    if (format.conversational()) {
      String text = templateOverride;
      if (text == null) {
        text =
            tokenizer
                .chatTemplate()
                .map(ChatTemplate::template)
                .orElseThrow(
                    () ->
                        new DatasetException(
                            file,
                            "conversational rows need a chat template, and the model's tokenizer"
                                + " has none (set ModelConfig.chat_template)"));
      }
      if (args.assistantOnlyLoss() && !GENERATION_MARKER.matcher(text).find()) {
        throw new DatasetException(
            file,
            "TrainingArguments.assistant_only_loss needs a chat template that marks assistant"
                + " text with {% generation %} ... {% endgeneration %}, and this one does not"
                + " (set ModelConfig.chat_template to such a template)");
      }
      this.template = new ChatTemplate(text, specialTokens());
    } else {
      this.template = null;
    }
    if (!format.conversational() && eosToken == null) {
      throw new DatasetException(
          file,
          "the tokenizer has no eos_token to end text rows with (set TrainingArguments.eos_token)");
    }
    this.completionOnly =
        args.completionOnlyLoss() == null
            ? format == RowFormat.PROMPT_COMPLETION
                || format == RowFormat.CONVERSATIONAL_PROMPT_COMPLETION
            : args.completionOnlyLoss();
  }

  private Map<String, String> specialTokens() {
    Map<String, String> special = new HashMap<>();
    for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
      special.put(key, tokenizer.specialToken(key).orElse(""));
    }
    if (args.eosToken() != null) {
      special.put(
          "eos_token", args.eosToken()); // TRL sets tokenizer.eos_token, which the template reads
    }
    return special;
  }

  TokenizedExample prepare(ObjectNode row, Path file, long rowNumber) {
    if (row.hasNonNull("tools") || row.hasNonNull("chat_template_kwargs")) {
      throw new DatasetException(
          file, rowNumber, "tools and chat_template_kwargs columns are not supported");
    }
    int[] ids;
    int[] labels;
    try {
      switch (format) {
        case TEXT -> {
          String text = RowFormat.text(row, args.datasetTextField(), file, rowNumber);
          ids = toInts(tokenizer.encode(withEos(text), true));
          labels = ids.clone();
        }
        case MESSAGES -> {
          List<Message> messages = RowFormat.messages(row, "messages", file, rowNumber);
          ChatTemplate.Tracked rendered = template.renderTracked(messages, false);
          TextTokenizer.Encoded enc = tokenizer.encodeWithSpans(rendered.text(), false);
          ids = toInts(enc.ids());
          labels = ids.clone();
          if (args.assistantOnlyLoss()) {
            applyMask(labels, assistantMask(rendered, enc), file, rowNumber);
          }
        }
        case PROMPT_COMPLETION -> {
          String prompt = RowFormat.text(row, "prompt", file, rowNumber);
          String completion = RowFormat.text(row, "completion", file, rowNumber);
          int[] promptIds = toInts(tokenizer.encode(prompt, true));
          ids = toInts(tokenizer.encode(prompt + withEos(completion), true));
          labels = ids.clone();
          if (completionOnly) {
            maskPrefix(labels, commonPrefix(promptIds, ids));
          }
        }
        case CONVERSATIONAL_PROMPT_COMPLETION -> {
          List<Message> prompt = RowFormat.messages(row, "prompt", file, rowNumber);
          List<Message> completion = RowFormat.messages(row, "completion", file, rowNumber);
          int[] promptIds = toInts(tokenizer.encode(template.render(prompt, true), false));
          List<Message> all = new ArrayList<>(prompt);
          all.addAll(completion);
          ChatTemplate.Tracked rendered = template.renderTracked(all, false);
          TextTokenizer.Encoded enc = tokenizer.encodeWithSpans(rendered.text(), false);
          ids = toInts(enc.ids());
          labels = ids.clone();
          if (completionOnly) {
            maskPrefix(labels, commonPrefix(promptIds, ids));
          }
          if (args.assistantOnlyLoss()) {
            applyMask(labels, assistantMask(rendered, enc), file, rowNumber);
          }
        }
        default -> throw new IllegalStateException(format.name());
      }
    } catch (ChatTemplate.ChatTemplateException e) {
      throw new DatasetException(
          file, rowNumber, "the chat template refused the row: " + e.getMessage(), e);
    }
    return truncate(ids, labels, file, rowNumber);
  }

  private String withEos(String text) {
    return text.endsWith(eosToken) ? text : text + eosToken;
  }

  private TokenizedExample truncate(int[] ids, int[] labels, Path file, long rowNumber) {
    Integer max = args.maxLength();
    int untruncated = ids.length;
    if (max != null && ids.length > max) {
      int from = args.truncationMode().equals("keep_end") ? ids.length - max : 0;
      ids = Arrays.copyOfRange(ids, from, from + max);
      labels = Arrays.copyOfRange(labels, from, from + max);
    }
    TokenizedExample example = new TokenizedExample(ids, labels, file, rowNumber);
    if (example.trainedTokens() == 0) {
      throw new DatasetException(
          file,
          rowNumber,
          untruncated > ids.length
              ? "too long: "
                  + untruncated
                  + " tokens, and none that is trained on remains within"
                  + " TrainingArguments.max_length="
                  + max
                  + " ("
                  + args.truncationMode()
                  + "); raise max_length or shorten the row"
              : "has no token to train on");
    }
    return example;
  }

  /**
   * transformers' assistant mask: for each generation span, the tokens from the one holding its
   * first character to the one holding its last (to the end when that is token 0 or none); a span
   * whose first character has no token stops the scan.
   */
  private static boolean[] assistantMask(ChatTemplate.Tracked rendered, TextTokenizer.Encoded enc) {
    boolean[] mask = new boolean[enc.ids().length];
    for (int[] span : rendered.generationSpans()) {
      Integer start = charToToken(enc, span[0]);
      Integer end = charToToken(enc, span[1] - 1);
      if (start == null) {
        break;
      }
      int stop = end == null || end == 0 ? mask.length : end + 1;
      for (int t = start; t < stop; t++) {
        mask[t] = true;
      }
    }
    return mask;
  }

  private static Integer charToToken(TextTokenizer.Encoded enc, int charIndex) {
    if (charIndex < 0) {
      return null;
    }
    for (int t = 0; t < enc.starts().length; t++) {
      if (enc.starts()[t] <= charIndex && charIndex < enc.ends()[t]) {
        return t;
      }
    }
    return null;
  }

  private static void applyMask(int[] labels, boolean[] mask, Path file, long rowNumber) {
    boolean any = false;
    for (int i = 0; i < labels.length; i++) {
      if (!mask[i]) {
        labels[i] = TokenizedExample.IGNORE;
      } else {
        any = true;
      }
    }
    if (!any) {
      throw new DatasetException(
          file,
          rowNumber,
          "has no assistant text to train on (TrainingArguments.assistant_only_loss)");
    }
  }

  private static void maskPrefix(int[] labels, int length) {
    Arrays.fill(labels, 0, length, TokenizedExample.IGNORE);
  }

  /** The number of leading ids both sequences share (TRL's {@code common_prefix_length}). */
  static int commonPrefix(int[] a, int[] b) {
    int n = Math.min(a.length, b.length);
    int i = 0;
    while (i < n && a[i] == b[i]) {
      i++;
    }
    return i;
  }

  private static int[] toInts(long[] ids) {
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }
}
