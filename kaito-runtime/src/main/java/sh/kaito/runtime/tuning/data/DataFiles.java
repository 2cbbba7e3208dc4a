package sh.kaito.runtime.tuning.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;
import sh.kaito.runtime.tuning.config.DatasetSettings;

/**
 * Finds the training data file as upstream's {@code dataset.py} does: {@code dataset_path} when the
 * config names one (relative to the parent of the data directory, upstream's {@code /mnt}), else
 * the first file under the data directory whose lower-cased name contains {@code csv}, {@code
 * json}, {@code parquet}, {@code arrow} or {@code webdataset}. Upstream walks in directory order;
 * here the walk is sorted (files before sub-directories, by name) so the choice is reproducible.
 */
public final class DataFiles {

  /** The file and the reader it takes ({@code json}, {@code csv} or {@code parquet}). */
  public record DataFile(Path path, String format) {}

  private static final List<String> KINDS =
      List.of("parquet", "json", "csv", "arrow", "webdataset");

  private DataFiles() {}

  public static DataFile locate(Path dataDir, DatasetSettings settings) {
    Path file;
    if (settings.datasetPath() != null && !settings.datasetPath().isBlank()) {
      String relative = settings.datasetPath().replaceAll("^/+|/+$", "");
      Path root = dataDir.toAbsolutePath().getParent();
      file = (root == null ? dataDir : root).resolve(relative);
      if (!Files.isRegularFile(file)) {
        throw new DatasetException(
            file, "no such file (DatasetConfig.dataset_path is relative to " + root + ")");
      }
    } else {
      file =
          find(dataDir)
              .orElseThrow(
                  () ->
                      new DatasetException(
                          dataDir,
                          "Unable to find a valid dataset file (a file whose name contains csv, json"
                              + " or parquet)"));
    }
    String format = settings.datasetExtension();
    if (format == null) {
      format = kindOf(file.getFileName().toString());
    }
    if (format == null || format.equals("arrow") || format.equals("webdataset")) {
      throw new DatasetException(
          file,
          "cannot read this kind of file"
              + (format == null ? "" : " (" + format + ")")
              + "; use parquet, json/jsonl or csv");
    }
    return new DataFile(file, format);
  }

  static String kindOf(String fileName) {
    String lower = fileName.toLowerCase(Locale.ROOT);
    for (String kind : KINDS) {
      if (lower.contains(kind)) {
        return kind;
      }
    }
    return null;
  }

  private static Optional<Path> find(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new DatasetException(dir, "the data directory does not exist");
    }
    try (Stream<Path> entries = Files.list(dir)) {
      List<Path> sorted = entries.sorted().toList();
      for (Path p : sorted) {
        if (Files.isRegularFile(p) && kindOf(p.getFileName().toString()) != null) {
          return Optional.of(p);
        }
      }
      for (Path p : sorted) {
        if (Files.isDirectory(p)) {
          Optional<Path> found = find(p);
          if (found.isPresent()) {
            return found;
          }
        }
      }
      return Optional.empty();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
