package sh.kaito.runtime.tuning.data;

import java.nio.file.Path;

/**
 * Training data that cannot be used: no data file, a file that cannot be read, or a row without
 * what TRL needs. The message names the file and, where there is one, the 1-based row, and says
 * what is wrong; it is meant for the user as it is (the {@code tune} command's termination
 * message).
 */
public final class DatasetException extends RuntimeException {

  private final Path file;
  private final long row;

  /** A problem with the whole file (or the data directory): {@code row} is 0. */
  public DatasetException(Path file, String problem) {
    this(file, 0, problem, null);
  }

  public DatasetException(Path file, long row, String problem) {
    this(file, row, problem, null);
  }

  public DatasetException(Path file, long row, String problem, Throwable cause) {
    super(file + (row > 0 ? " row " + row : "") + ": " + problem, cause);
    this.file = file;
    this.row = row;
  }

  public Path file() {
    return file;
  }

  /** The 1-based row, or 0 when the problem is not one row's. */
  public long row() {
    return row;
  }
}
