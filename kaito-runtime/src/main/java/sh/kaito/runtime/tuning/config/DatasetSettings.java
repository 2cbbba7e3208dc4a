package sh.kaito.runtime.tuning.config;

/**
 * The {@code DatasetConfig} section (upstream's {@code cli.DatasetConfig}).
 *
 * @param datasetPath a file under {@code /mnt} to read instead of searching the data directory, or
 *     null
 * @param datasetExtension the reader to use ({@code json}, {@code csv}, {@code parquet}) instead of
 *     the one the file name implies, or null
 * @param shuffle shuffle the rows before splitting (upstream shuffles without a seed; kaito-runtime
 *     uses {@link #shuffleSeed} so that a rerun sees the same order)
 * @param trainTestSplit the fraction of rows to train on, in (0, 1]; the rest is the test split
 */
public record DatasetSettings(
    String datasetPath,
    String datasetExtension,
    boolean shuffle,
    long shuffleSeed,
    double trainTestSplit) {

  static DatasetSettings parse(Section s) {
    String path = s.string("dataset_path", null);
    String extension = s.string("dataset_extension", null);
    if (extension != null) {
      extension = s.oneOf("dataset_extension", null, "readable formats", "json", "csv", "parquet");
    }
    boolean shuffle = s.bool("shuffle_dataset", true);
    int seed = s.integer("shuffle_seed", 42);
    double split = s.number("train_test_split", 0.8);
    if (!(split > 0 && split <= 1)) {
      throw s.error(
          "train_test_split", "Train/Test split needs to be between 0 and 1, got " + split);
    }
    // Upstream declares these columns but reads rows as TRL does, by the column names messages,
    // prompt/completion or text; a value other than the default would be ignored there too.
    s.onlyUnset(
        "context_column", "rows are read by the column names messages, prompt/completion or text");
    s.onlyUnset(
        "messages_column", "rows are read by the column names messages, prompt/completion or text");
    s.oneOf(
        "response_column",
        "text",
        "rows are read by the column names messages, prompt/completion or text",
        "text");
    return new DatasetSettings(path, extension, shuffle, seed, split);
  }
}
