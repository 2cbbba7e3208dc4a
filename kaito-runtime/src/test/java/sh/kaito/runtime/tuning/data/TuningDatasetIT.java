package sh.kaito.runtime.tuning.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.runtime.server.TinyModels;
import sh.kaito.runtime.tokenizer.TextTokenizer;
import sh.kaito.runtime.tuning.config.TrainingConfig;

/**
 * Bad training data fails before training with a message that names the file and row; and what
 * reads well reads the same from every container format. Uses the tiny byte-level tokenizer with a
 * Phi-3 style template (DuckDB and the tokenizers native library, no oracle).
 */
class TuningDatasetIT {

  @TempDir static Path models;
  private static TextTokenizer tokenizer;

  @TempDir Path data;

  @BeforeAll
  static void tokenizer() throws Exception {
    tokenizer = TextTokenizer.load(TinyModels.model(models.resolve("tiny"), 64, 1));
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  private TuningDataset load(String trainingArguments) {
    TrainingConfig c =
        TrainingConfig.parse(
            "training_config:\n  DatasetConfig:\n    train_test_split: 1\n"
                + (trainingArguments.isEmpty()
                    ? ""
                    : "  TrainingArguments:\n    " + trainingArguments + "\n"),
            null);
    return TuningDataset.load(data, c.dataset(), c.training(), tokenizer, null);
  }

  private Path write(String name, String content) throws Exception {
    return Files.writeString(data.resolve(name), content);
  }

  @Test
  void missingColumnNamesTheFileAndTheColumnsItHas() throws Exception {
    Path f = write("train.jsonl", "{\"question\": \"a\", \"answer\": \"b\"}\n");
    assertThatThrownBy(() -> load(""))
        .isInstanceOf(DatasetException.class)
        .hasMessageStartingWith(f + ": no column messages, prompt and completion, or text")
        .hasMessageContaining("(columns: question, answer)");
  }

  @Test
  void emptyFile() throws Exception {
    Path f = write("train.jsonl", "");
    assertThatThrownBy(() -> load("")).hasMessage(f + ": the file is empty");
  }

  @Test
  void unknownRoleNamesTheRowAndMessage() throws Exception {
    Path f =
        write(
            "chat.jsonl",
            """
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
            {"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]}
            """);
    assertThatThrownBy(() -> load(""))
        .isInstanceOf(DatasetException.class)
        .hasMessage(
            f
                + " row 2: messages[1].role 'robot' is not a known role (system, user or"
                + " assistant)")
        .extracting(e -> ((DatasetException) e).row())
        .isEqualTo(2L);
  }

  @Test
  void theFirstBadRowIsNamedThoughRowsArePreparedInParallel() throws Exception {
    StringBuilder rows = new StringBuilder();
    for (int i = 1; i <= 200; i++) {
      String role = i == 37 || i == 150 ? "robot" : "assistant";
      rows.append("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"")
          .append(role)
          .append("\", \"content\": \"a\"}]}\n");
    }
    Path f = write("chat.jsonl", rows.toString());
    assertThatThrownBy(() -> load("")).hasMessageStartingWith(f + " row 37: messages[1].role");
  }

  @Test
  void nonUtf8NamesTheLine() throws Exception {
    Path f = data.resolve("train.jsonl");
    byte[] good = "{\"text\": \"one\"}\n{\"text\": \"two\"}\n".getBytes(StandardCharsets.UTF_8);
    byte[] bad = {'{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xff, 'x', '"', '}', '\n'};
    byte[] all = Arrays.copyOf(good, good.length + bad.length);
    System.arraycopy(bad, 0, all, good.length, bad.length);
    Files.write(f, all);
    assertThatThrownBy(() -> load(""))
        .hasMessage(f + ": line 3: not valid UTF-8 (convert the file to UTF-8)");
  }

  @Test
  void truncatedParquetNamesTheFile() throws Exception {
    Path f = data.resolve("train.parquet");
    try (var c = DriverManager.getConnection("jdbc:duckdb:");
        var s = c.createStatement()) {
      s.execute(
          "COPY (SELECT 'row ' || i AS text FROM range(1000) t(i)) TO '"
              + f
              + "' (FORMAT parquet)");
    }
    byte[] bytes = Files.readAllBytes(f);
    Files.write(f, Arrays.copyOf(bytes, bytes.length / 2));
    assertThatThrownBy(() -> load(""))
        .isInstanceOf(DatasetException.class)
        .hasMessageStartingWith(f + ": not a complete parquet file (truncated or not parquet)");
  }

  @Test
  void rowWithNothingTrainableAfterTruncationIsNamed() throws Exception {
    Path f =
        write(
            "train.jsonl",
            """
            {"prompt": "short", "completion": " ok"}
            {"prompt": "a prompt much longer than eight tokens", "completion": " ok"}
            """);
    assertThatThrownBy(() -> load("max_length: 8"))
        .hasMessageStartingWith(f + " row 2: too long: ")
        .hasMessageContaining("TrainingArguments.max_length=8");
  }

  @Test
  void nullContentAndMissingCompletionAreRowErrors() throws Exception {
    Path f =
        write(
            "train.jsonl",
            """
            {"prompt": "a", "completion": "b"}
            {"prompt": "a", "completion": null}
            """);
    assertThatThrownBy(() -> load("")).hasMessage(f + " row 2: completion is missing");
  }

  @Test
  void noDataFileNamesTheDirectory() throws Exception {
    write("README.md", "no data here");
    assertThatThrownBy(() -> load(""))
        .hasMessageStartingWith(data + ": Unable to find a valid dataset file");
  }

  @Test
  void tokenSpansAreJavaStringIndices() {
    // The emoji is two UTF-16 units and four byte-level tokens; 'b' follows it at index 3.
    TextTokenizer.Encoded e = tokenizer.encodeWithSpans("a\uD83D\uDE42b", false);
    int last = e.ids().length - 1;
    assertThat(e.starts()[last]).isEqualTo(3);
    assertThat(e.ends()[last]).isEqualTo(4);
    assertThat(e.starts()[0]).isZero();
  }

  @Test
  void promptCompletionTrainsOnTheCompletionAndItsEos() throws Exception {
    write("data.csv", "prompt,completion\nWhat?,\" Yes\"\n");
    TuningDataset d = load("");
    assertThat(d.format()).isEqualTo(RowFormat.PROMPT_COMPLETION);
    TokenizedExample e = d.train().get(0);
    long[] prompt = tokenizer.encode("What?", true);
    long[] full = tokenizer.encode("What? Yes<|endoftext|>", true);
    assertThat(e.inputIds())
        .containsExactly(Arrays.stream(full).mapToInt(Math::toIntExact).toArray());
    for (int i = 0; i < e.length(); i++) {
      assertThat(e.labels()[i])
          .as("label %d", i)
          .isEqualTo(i < prompt.length ? TokenizedExample.IGNORE : e.inputIds()[i]);
    }
    assertThat(e.origin()).isEqualTo(data.resolve("data.csv") + " row 1");
  }
}
