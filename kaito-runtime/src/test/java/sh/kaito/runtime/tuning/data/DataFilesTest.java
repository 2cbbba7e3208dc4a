package sh.kaito.runtime.tuning.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.runtime.tuning.config.DatasetSettings;

class DataFilesTest {

  @TempDir Path mnt;

  private static DatasetSettings settings(String path, String extension) {
    return new DatasetSettings(path, extension, true, 42, 1.0);
  }

  @Test
  void findsTheFirstFileWhoseNameContainsAKnownKindFilesBeforeDirectories() throws Exception {
    Path data = Files.createDirectories(mnt.resolve("data"));
    Files.createDirectories(data.resolve("a-dir"));
    Files.writeString(data.resolve("a-dir/early.parquet"), "x");
    Files.writeString(data.resolve("README.md"), "x");
    Files.writeString(data.resolve("train.JSONL"), "x");
    Files.writeString(data.resolve("zeta.csv"), "x");
    DataFiles.DataFile f = DataFiles.locate(data, settings(null, null));
    assertThat(f.path()).isEqualTo(data.resolve("train.JSONL"));
    assertThat(f.format()).isEqualTo("json");
  }

  @Test
  void datasetPathIsRelativeToTheParentOfTheDataDirectory() throws Exception {
    Path data = Files.createDirectories(mnt.resolve("data"));
    Files.createDirectories(mnt.resolve("other"));
    Files.writeString(mnt.resolve("other/rows.txt"), "x");
    DataFiles.DataFile f = DataFiles.locate(data, settings("/other/rows.txt/", "csv"));
    assertThat(f.path()).isEqualTo(mnt.resolve("other/rows.txt"));
    assertThat(f.format()).isEqualTo("csv");
    assertThatThrownBy(() -> DataFiles.locate(data, settings("other/rows.txt", null)))
        .hasMessageContaining("cannot read this kind of file");
    assertThatThrownBy(() -> DataFiles.locate(data, settings("nope.json", null)))
        .hasMessageStartingWith(mnt.resolve("nope.json") + ": no such file");
  }

  @Test
  void arrowFilesAreRefusedByName() throws Exception {
    Path data = Files.createDirectories(mnt.resolve("data"));
    Files.writeString(data.resolve("train.arrow"), "x");
    assertThatThrownBy(() -> DataFiles.locate(data, settings(null, null)))
        .hasMessage(
            data.resolve("train.arrow")
                + ": cannot read this kind of file (arrow); use parquet, json/jsonl or csv");
  }

  @Test
  void splitSizesFollowDatasetsTrainTestSplit() {
    // test_size = 1 - 0.8 = 0.19999999999999996: ceil(1.9999999999999996) = 2 test rows of 10
    assertThat(TuningDataset.splitSizes(10, 0.8, mnt)).containsExactly(8, 2);
    assertThat(TuningDataset.splitSizes(3, 0.5, mnt)).containsExactly(1, 2);
    assertThatThrownBy(() -> TuningDataset.splitSizes(1, 0.5, mnt))
        .hasMessageContaining("leaves the train split empty");
  }
}
