package sh.kaito.runtime.server;

import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Turns a stream of generated tokens into text deltas whose concatenation equals the text of the
 * whole output, cut before the first stop string. A token's text can depend on the tokens after it:
 * an incomplete UTF-8 sequence decodes to U+FFFD until its last byte arrives, and a stop string may
 * be a few tokens long. So each step decodes all tokens so far and only emits text that cannot
 * change any more: trailing U+FFFD and the last {@code longest stop - 1} characters are held back
 * until the next token or the end. Not thread-safe (one per sequence).
 */
final class IncrementalText {

  private static final char REPLACEMENT = '\uFFFD';

  private final Function<long[], String> decoder;
  private final List<String> stops;
  private final int holdBack;
  private long[] tokens = new long[32];
  private int count;
  private String emitted = "";

  /**
   * @param decoder the whole text of a token sequence (special tokens skipped)
   */
  IncrementalText(Function<long[], String> decoder, List<String> stops) {
    this.decoder = decoder;
    this.stops = List.copyOf(stops);
    this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
  }

  /** Adds a token; returns the text that became final (often empty). */
  String add(long token) {
    if (count == tokens.length) {
      tokens = Arrays.copyOf(tokens, count * 2);
    }
    tokens[count++] = token;
    String text = decoder.apply(Arrays.copyOf(tokens, count));
    int stop = firstStop(text, stops);
    int end;
    if (stop >= 0) {
      end = stop;
    } else {
      end = text.length() - holdBack;
      while (end > 0 && text.charAt(end - 1) == REPLACEMENT) {
        end--;
      }
    }
    if (end > 0 && end < text.length() && Character.isHighSurrogate(text.charAt(end - 1))) {
      end--; // never split a surrogate pair
    }
    return emitUpTo(text, end);
  }

  /** The text not emitted yet, once generation has ended. */
  String finish() {
    String text = cut(decoder.apply(Arrays.copyOf(tokens, count)), stops);
    return emitUpTo(text, text.length());
  }

  private String emitUpTo(String text, int end) {
    if (end <= emitted.length() || !text.startsWith(emitted)) {
      // Nothing new, or the decoder changed text it had already produced (no decoder we load does
      // that for a growing sequence); the rest then comes with finish() if it lines up again.
      return "";
    }
    String delta = text.substring(emitted.length(), end);
    emitted = text.substring(0, end);
    return delta;
  }

  /** The output text: everything before the first stop string, if any. */
  static String cut(String text, List<String> stops) {
    int stop = firstStop(text, stops);
    return stop >= 0 ? text.substring(0, stop) : text;
  }

  private static int firstStop(String text, List<String> stops) {
    int first = -1;
    for (String s : stops) {
      int i = text.indexOf(s);
      if (i >= 0 && (first < 0 || i < first)) {
        first = i;
      }
    }
    return first;
  }
}
