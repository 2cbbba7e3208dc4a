package sh.kaito.runtime.tuning.data;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One training example as TRL's {@code SFTTrainer} prepares it: the token ids and, position by
 * position, the label: the same id where the token counts in the loss, {@link #IGNORE} where it
 * does not. Labels are not shifted; the loss at position i predicts {@code labels[i]} from the
 * logits at i - 1, as transformers' causal LM loss does.
 *
 * @param source the data file the row came from
 * @param row the row's 1-based position in that file, for messages
 */
public record TokenizedExample(int[] inputIds, int[] labels, Path source, long row) {

  /** The label of a position excluded from the loss (PyTorch's ignore_index). */
  public static final int IGNORE = -100;

  public TokenizedExample {
    if (inputIds.length != labels.length) {
      throw new IllegalArgumentException(
          "input_ids and labels differ in length: " + inputIds.length + " vs " + labels.length);
    }
  }

  public int length() {
    return inputIds.length;
  }

  /** Positions whose label counts in the loss. */
  public int trainedTokens() {
    int n = 0;
    for (int label : labels) {
      if (label != IGNORE) {
        n++;
      }
    }
    return n;
  }

  /** Where the row came from, as messages name it: {@code file row N}. */
  public String origin() {
    return source + " row " + row;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TokenizedExample e
        && Arrays.equals(inputIds, e.inputIds)
        && Arrays.equals(labels, e.labels)
        && java.util.Objects.equals(source, e.source)
        && row == e.row;
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(inputIds) + Arrays.hashCode(labels);
  }

  @Override
  public String toString() {
    return "TokenizedExample["
        + origin()
        + ", input_ids="
        + Arrays.toString(inputIds)
        + ", labels="
        + Arrays.toString(labels)
        + "]";
  }
}
