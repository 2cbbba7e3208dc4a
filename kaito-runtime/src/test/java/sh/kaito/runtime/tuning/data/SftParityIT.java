package sh.kaito.runtime.tuning.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sh.kaito.runtime.Oracle;
import sh.kaito.runtime.tokenizer.TextTokenizer;
import sh.kaito.runtime.tuning.config.TrainingConfig;

/**
 * The token ids and labels of every prepared example equal those of TRL's {@code SFTTrainer} (TRL
 * 1.16 in the Python oracle, {@code src/test/python/sft_data.py}) for Llama-3, Qwen2 and Phi-3
 * style tokenizers and chat templates: plain text, messages, prompt/completion and conversational
 * prompt/completion rows, with completion-only and assistant-only loss, and truncation. The same
 * rows read from parquet, a JSON array and CSV prepare to the same examples as from JSON Lines.
 */
class SftParityIT {

  private static Path work;
  private static JsonNode expected;

  @BeforeAll
  static void runOracle() throws Exception {
    work = Oracle.workDir("sft-data");
    Oracle.runScript("sft_data.py", work, "--out", work.toString());
    expected = Oracle.readJson(work.resolve("expected.json"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama", "qwen2", "phi3"})
  void preparesEveryCaseAsTrl(String family) throws Exception {
    try (TextTokenizer tokenizer = TextTokenizer.load(work.resolve(family))) {
      int compared = 0;
      for (Map.Entry<String, JsonNode> c : expected.get("cases").get(family).properties()) {
        String stem = c.getValue().get("data").asText();
        JsonNode options = c.getValue().get("options");
        Path file = work.resolve("data").resolve(stem + ".jsonl");
        if (c.getValue().has("dropped_rows")) {
          // TRL drops rows left with nothing to train on; kaito-runtime refuses the first by name.
          long row = c.getValue().get("dropped_rows").get(0).asLong();
          assertThatThrownBy(() -> prepare(tokenizer, file, options))
              .as("%s %s", family, c.getKey())
              .isInstanceOf(DatasetException.class)
              .hasMessageContaining("/" + file.getFileName() + " row " + row + ": too long: ");
          continue;
        }
        assertSameAsTrl(family + " " + c.getKey(), prepare(tokenizer, file, options), c.getValue());
        compared++;
      }
      assertThat(compared).isGreaterThanOrEqualTo(8);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"messages.parquet", "messages.json", "prompt_completion.csv"})
  void otherContainersReadTheSameRows(String fileName) throws Exception {
    String stem = fileName.substring(0, fileName.indexOf('.'));
    JsonNode trl = expected.get("cases").get("qwen2").get(stem);
    try (TextTokenizer tokenizer = TextTokenizer.load(work.resolve("qwen2"))) {
      Path file = work.resolve("data").resolve(fileName);
      assertSameAsTrl(fileName, prepare(tokenizer, file, trl.get("options")), trl);
    }
  }

  /** Prepares {@code file} alone in a data directory, in file order (no shuffle, no split). */
  private static List<TokenizedExample> prepare(
      TextTokenizer tokenizer, Path file, JsonNode options) throws Exception {
    Path dir = Files.createTempDirectory(work, "data");
    Files.copy(file, dir.resolve(file.getFileName()));
    StringBuilder yaml =
        new StringBuilder(
            "training_config:\n"
                + "  DatasetConfig:\n    shuffle_dataset: false\n    train_test_split: 1\n"
                + "  TrainingArguments:\n    output_dir: /tmp/unused\n");
    for (Map.Entry<String, JsonNode> o : options.properties()) {
      yaml.append("    ").append(o.getKey()).append(": ").append(o.getValue()).append('\n');
    }
    TrainingConfig config = TrainingConfig.parse(yaml.toString(), null);
    return TuningDataset.load(
            dir, config.dataset(), config.training(), tokenizer, config.chatTemplateOverride())
        .train();
  }

  private static void assertSameAsTrl(String what, List<TokenizedExample> ours, JsonNode trl) {
    List<int[]> ids = ints(trl.get("input_ids"));
    List<int[]> labels = ints(trl.get("labels"));
    assertThat(ours).as("%s: examples", what).hasSize(ids.size());
    for (int i = 0; i < ours.size(); i++) {
      assertThat(ours.get(i).inputIds())
          .as("%s: input_ids of row %d", what, i + 1)
          .containsExactly(ids.get(i));
      assertThat(ours.get(i).labels())
          .as("%s: labels of row %d", what, i + 1)
          .containsExactly(labels.get(i));
    }
  }

  private static List<int[]> ints(JsonNode rows) {
    List<int[]> out = new ArrayList<>();
    for (JsonNode row : rows) {
      int[] r = new int[row.size()];
      for (int i = 0; i < r.length; i++) {
        r[i] = row.get(i).asInt();
      }
      out.add(r);
    }
    return out;
  }
}
