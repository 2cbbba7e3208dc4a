package sh.kaito.runtime.tuning.data;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.runtime.tokenizer.TextTokenizer;
import sh.kaito.runtime.tuning.config.DatasetSettings;
import sh.kaito.runtime.tuning.config.TrainingArguments;

/**
 * The training data of a {@code tune} run, prepared as upstream Kaito and TRL prepare it: the file
 * found in the data directory ({@link DataFiles}), its rows read through DuckDB, each row rendered,
 * tokenized and labelled as {@code SFTTrainer} does ({@link SftPreparation}), then shuffled and
 * split as {@code DatasetConfig} says, and finally shuffled again if {@code
 * TrainingArguments.shuffle_dataset} (TRL's own shuffle) is on.
 *
 * <p>Every row is prepared before training starts, so a bad row fails the run at once with a {@link
 * DatasetException} naming the file and row. The shuffles use {@code DatasetConfig.shuffle_seed}
 * and {@code TrainingArguments.seed} with {@link java.util.Random}, so a rerun (a resumed run) sees
 * the same order; upstream's first shuffle is unseeded, and {@code datasets} draws its permutations
 * from numpy, so the orders differ from a Python run's.
 *
 * @param train the examples to train on, in training order before the trainer's own sampling
 * @param test the held-out examples ({@code train_test_split} below 1), else empty
 */
public record TuningDataset(
    Path file, RowFormat format, List<TokenizedExample> train, List<TokenizedExample> test) {

  private static final Logger LOG = LoggerFactory.getLogger(TuningDataset.class);

  /**
   * @param dataDir the {@code tune} command's {@code --data}
   * @param chatTemplateOverride {@code TrainingConfig.chatTemplateOverride()}, or null
   */
  public static TuningDataset load(
      Path dataDir,
      DatasetSettings settings,
      TrainingArguments args,
      TextTokenizer tokenizer,
      String chatTemplateOverride) {
    DataFiles.DataFile file = DataFiles.locate(dataDir, settings);
    long started = System.nanoTime();
    List<ObjectNode> rows = DataReader.read(file);
    RowFormat format = RowFormat.detect(rows.get(0), args.datasetTextField(), file.path());
    SftPreparation preparation =
        new SftPreparation(tokenizer, chatTemplateOverride, args, format, file.path());
    List<TokenizedExample> examples = prepareAll(preparation, rows, file.path());
    int rowCount = rows.size();
    rows = null; // the JSON is no longer needed
    long tokens = 0;
    long truncated = 0;
    for (TokenizedExample e : examples) {
      tokens += e.length();
      if (args.maxLength() != null && e.length() == args.maxLength()) {
        truncated++;
      }
    }
    if (settings.shuffle()) {
      Collections.shuffle(examples, new Random(settings.shuffleSeed()));
    }
    List<TokenizedExample> train = examples;
    List<TokenizedExample> test = List.of();
    if (settings.trainTestSplit() < 1) {
      int[] sizes = splitSizes(examples.size(), settings.trainTestSplit(), file.path());
      List<TokenizedExample> permuted = new ArrayList<>(examples);
      Collections.shuffle(permuted, new Random(settings.shuffleSeed()));
      test = List.copyOf(permuted.subList(0, sizes[1]));
      train = new ArrayList<>(permuted.subList(sizes[1], sizes[1] + sizes[0]));
    }
    if (args.shuffleDataset()) {
      Collections.shuffle(train, new Random(args.seed()));
    }
    LOG.info(
        "dataset file={} format={} rows={} train={} test={} tokens={} at_max_length={}"
            + " seconds={}",
        file.path(),
        format.name().toLowerCase(java.util.Locale.ROOT),
        rowCount,
        train.size(),
        test.size(),
        tokens,
        truncated,
        String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - started) / 1e9));
    return new TuningDataset(file.path(), format, List.copyOf(train), test);
  }

  /**
   * Prepares the rows on all cores (rows are independent; rendering and tokenizing are
   * thread-safe), in file order; when rows are bad, the error is the first bad row's.
   */
  private static List<TokenizedExample> prepareAll(
      SftPreparation preparation, List<ObjectNode> rows, Path file) {
    TokenizedExample[] out = new TokenizedExample[rows.size()];
    RuntimeException[] errors = new RuntimeException[rows.size()];
    IntStream.range(0, rows.size())
        .parallel()
        .forEach(
            i -> {
              try {
                out[i] = preparation.prepare(rows.get(i), file, i + 1);
              } catch (RuntimeException e) {
                errors[i] = e;
              }
            });
    for (RuntimeException e : errors) {
      if (e != null) {
        throw e;
      }
    }
    return new ArrayList<>(Arrays.asList(out));
  }

  /**
   * {@code datasets}' {@code train_test_split(test_size=1 - split)} sizes: test = ceil(test_size ×
   * n), train = floor((1 - test_size) × n), both non-empty.
   *
   * @return {train, test}
   */
  static int[] splitSizes(int n, double split, Path file) {
    double testSize = 1 - split;
    int test = (int) Math.ceil(testSize * n);
    int train = (int) Math.floor((1 - testSize) * n);
    if (train == 0 || test == 0) {
      throw new DatasetException(
          file,
          "with "
              + n
              + " rows, DatasetConfig.train_test_split="
              + split
              + " leaves the "
              + (train == 0 ? "train" : "test")
              + " split empty");
    }
    return new int[] {train, test};
  }
}
