package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.runtime.model.SafetensorsFile;
import sh.kaito.runtime.server.TinyModels;

/**
 * {@code kaito-runtime tune} as the tuning Job runs it, on a tiny random Llama with a byte-level
 * tokenizer ({@link TinyModels}): a run killed after a checkpoint and rerun ends with the adapter
 * of an uninterrupted run (dropout and shuffling on); {@code GET /progress} while it trains; bad
 * data fails with a one-line reason in the termination log and no marker; {@code --method qlora}
 * trains on a 4-bit base, and must agree with the config's {@code QuantizationConfig}.
 */
class TuneCommandIT {

  @TempDir static Path dir;
  static Path model;

  @BeforeAll
  static void tinyModel() throws IOException {
    model = TinyModels.model(dir.resolve("model"), 256, 3);
  }

  static final String CONFIG =
      """
      training_config:
        ModelConfig: {torch_dtype: "bfloat16", local_files_only: true, device_map: "auto"}
        QuantizationConfig: {load_in_4bit: false}
        LoraConfig: {r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: [q_proj, v_proj, down_proj]}
        TrainingArguments:
          output_dir: "/mnt/results"
          per_device_train_batch_size: 2
          gradient_accumulation_steps: 2
          max_steps: %d
          save_strategy: steps
          save_steps: 4
          logging_steps: 1
          learning_rate: 0.01
          seed: 7
        DataCollator: {mlm: true}
        DatasetConfig: {shuffle_dataset: true, train_test_split: 1}
      """;

  static Path data(String name, List<String> rows) throws IOException {
    Path d = Files.createDirectories(dir.resolve(name));
    Files.write(d.resolve("train.jsonl"), rows, StandardCharsets.UTF_8);
    return d;
  }

  static List<String> goodRows() {
    List<String> rows = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      rows.add(
          "{\"messages\":[{\"role\":\"user\",\"content\":\"What is "
              + i
              + " plus one?\"},{\"role\":\"assistant\",\"content\":\"It is "
              + (i + 1)
              + ".\"}]}");
    }
    return rows;
  }

  static List<String> args(Path data, Path out, Path config) {
    return tuneArgs(
        "tiny",
        model,
        data,
        out,
        config,
        out.resolveSibling(out.getFileName() + "-termination-log"));
  }

  /** The tuning Job's command line (with --port 0 and a test termination log). */
  static List<String> tuneArgs(
      String preset, Path weights, Path data, Path out, Path config, Path terminationLog) {
    return new ArrayList<>(
        List.of(
            "tune",
            "--preset",
            preset,
            "--method",
            "lora",
            "--weights",
            weights.toString(),
            "--data",
            data.toString(),
            "--output",
            out.toString(),
            "--gpus",
            "0",
            "--port",
            "0",
            "--config",
            config.toString(),
            "--termination-log",
            terminationLog.toString()));
  }

  static Path config(String name, int maxSteps) throws IOException {
    Path c = dir.resolve(name + ".yaml");
    Files.writeString(c, String.format(CONFIG, maxSteps));
    return c;
  }

  @Test
  void killedAfterACheckpointAndRerunEndsAsAnUninterruptedRun() throws Exception {
    Path data = data("data", goodRows());
    Path config = config("resume", 60);
    Path whole = dir.resolve("whole");
    RuntimeRun uninterrupted = RuntimeRun.of(args(data, whole, config).toArray(String[]::new));
    assertThat(uninterrupted.exit()).as(uninterrupted.toString()).isZero();
    assertThat(uninterrupted.out()).contains("tune step=60/60");

    Path resumed = dir.resolve("resumed");
    List<String> command = new ArrayList<>();
    command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(RuntimeMain.class.getName());
    command.addAll(args(data, resumed, config));
    Path log = dir.resolve("child.log");
    Process child =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      // While it trains, /progress answers in the controller's shape.
      int port = awaitPort(log, child);
      JsonNode progress = awaitProgress(port, child);
      assertThat(progress.get("total_steps").asLong()).isEqualTo(60);
      for (String field : List.of("epoch", "loss", "tokens_per_second", "eta_seconds")) {
        assertThat(progress.has(field)).as(field + " in " + progress).isTrue();
      }
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      while (!Files.exists(resumed.resolve("checkpoint-4/trainer_state.json"))) {
        assertThat(child.isAlive()).as(Files.readString(log)).isTrue();
        assertThat(System.nanoTime()).as("checkpoint-4 written").isLessThan(deadline);
        Thread.sleep(5);
      }
    } finally {
      child.destroyForcibly(); // SIGKILL: no shutdown hooks, as an evicted pod
      child.waitFor(1, TimeUnit.MINUTES);
    }
    assertThat(resumed.resolve(TuneCommand.MARKER)).as("killed before the end").doesNotExist();
    assertThat(resumed.resolve("adapter_model.safetensors")).doesNotExist();

    RuntimeRun rerun = RuntimeRun.of(args(data, resumed, config).toArray(String[]::new));
    assertThat(rerun.exit()).as(rerun.toString()).isZero();
    // it went on from a checkpoint: the steps before it are not run again
    assertThat(rerun.out()).doesNotContain("tune step=1/60 ").doesNotContain("tune step=4/60 ");
    assertThat(resumed.resolve(TuneCommand.MARKER)).exists();

    SafetensorsFile a = SafetensorsFile.open(whole.resolve("adapter_model.safetensors"));
    SafetensorsFile b = SafetensorsFile.open(resumed.resolve("adapter_model.safetensors"));
    assertThat(b.tensors().keySet()).isEqualTo(a.tensors().keySet());
    try (var manager = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
      for (String key : a.tensors().keySet()) {
        float[] x = a.load(key, manager, ai.djl.ndarray.types.DataType.FLOAT32).toFloatArray();
        float[] y = b.load(key, manager, ai.djl.ndarray.types.DataType.FLOAT32).toFloatArray();
        for (int i = 0; i < x.length; i++) {
          // the same steps on the same data with the same masks: equal up to libtorch's threading
          assertThat((double) Math.abs(x[i] - y[i]))
              .as(key + "[" + i + "]")
              .isLessThanOrEqualTo(1e-6);
        }
      }
    }
    JsonNode adapterConfig =
        new ObjectMapper().readTree(whole.resolve("adapter_config.json").toFile());
    assertThat(adapterConfig.get("peft_type").asText()).isEqualTo("LORA");
    assertThat(adapterConfig.get("r").asInt()).isEqualTo(4);
  }

  @Test
  void badDataFailsNamingFileAndRowWithoutMarker() throws Exception {
    List<String> unknownRole = goodRows();
    unknownRole.set(2, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}");
    List<String> missingColumn = goodRows();
    missingColumn.set(0, "{\"question\":\"hi\",\"answer\":\"ho\"}");
    assertFailsCleanly("unknown-role", unknownRole, "row 3");
    assertFailsCleanly("missing-column", missingColumn, "messages");
    assertFailsCleanly("empty", List.of(), "empty");
  }

  /** tune on these rows exits 1 naming the file (and {@code detail}), with no marker or adapter. */
  private static void assertFailsCleanly(String name, List<String> rows, String detail)
      throws Exception {
    Path data = data(name, rows);
    Path out = dir.resolve(name + "-out");
    RuntimeRun run = RuntimeRun.of(args(data, out, config(name, 4)).toArray(String[]::new));
    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.errorLine()).contains("train.jsonl").contains(detail);
    String termination =
        Files.readString(out.resolveSibling(name + "-out-termination-log")).strip();
    assertThat(termination).isEqualTo(run.errorLine().substring("error: ".length()));
    assertThat(out.resolve(TuneCommand.MARKER)).doesNotExist();
    assertThat(out.resolve("adapter_model.safetensors")).doesNotExist();
  }

  @Test
  void qloraTrainsOnAFourBitBaseAndWritesAPeftAdapter() throws Exception {
    Path data = data("qlora-data", goodRows());
    Path out = dir.resolve("qlora-out");
    Path config = dir.resolve("qlora.yaml");
    Files.writeString(
        config,
        String.format(CONFIG, 3)
            .replace(
                "QuantizationConfig: {load_in_4bit: false}",
                "QuantizationConfig: {load_in_4bit: true, bnb_4bit_quant_type: nf4,"
                    + " bnb_4bit_compute_dtype: bfloat16, bnb_4bit_use_double_quant: true}"));
    List<String> a = args(data, out, config);
    a.set(a.indexOf("lora"), "qlora");
    RuntimeRun run = RuntimeRun.of(a.toArray(String[]::new));
    assertThat(run.exit()).as(run.toString()).isZero();
    assertThat(run.out()).contains("tune step=3/3");
    assertThat(out.resolve(TuneCommand.MARKER)).exists();
    JsonNode adapterConfig =
        new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
    assertThat(adapterConfig.get("peft_type").asText()).isEqualTo("LORA");
    assertThat(SafetensorsFile.open(out.resolve("adapter_model.safetensors")).tensors())
        .containsKey("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  }

  @Test
  void methodAndQuantizationConfigMustAgree() throws Exception {
    Path out = dir.resolve("qlora-lora-config-out");
    List<String> a = args(dir.resolve("none"), out, config("q", 4));
    a.set(a.indexOf("lora"), "qlora");
    RuntimeRun run = RuntimeRun.of(a.toArray(String[]::new));
    assertThat(run.exit()).isEqualTo(1);
    assertThat(run.errorLine()).contains("QuantizationConfig.load_in_4bit: true");
    assertThat(Files.readString(out.resolveSibling("qlora-lora-config-out-termination-log")))
        .contains("--method qlora needs");

    Path eight = dir.resolve("eight.yaml");
    Files.writeString(
        eight,
        String.format(CONFIG, 3)
            .replace("{load_in_4bit: false}", "{load_in_4bit: false, load_in_8bit: true}"));
    List<String> b = args(dir.resolve("none"), dir.resolve("eight-out"), eight);
    b.set(b.indexOf("lora"), "qlora");
    RuntimeRun refused = RuntimeRun.of(b.toArray(String[]::new));
    assertThat(refused.exit()).isEqualTo(1);
    assertThat(refused.errorLine()).contains("load_in_8bit").contains("not supported");
  }

  private static int awaitPort(Path log, Process child) throws Exception {
    Pattern p = Pattern.compile("tune progress port=(\\d+)");
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (true) {
      String text = Files.exists(log) ? Files.readString(log) : "";
      Matcher m = p.matcher(text);
      if (m.find()) {
        return Integer.parseInt(m.group(1));
      }
      assertThat(child.isAlive()).as(text).isTrue();
      assertThat(System.nanoTime()).as("progress port logged").isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  private static JsonNode awaitProgress(int port, Process child) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (true) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/progress")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      JsonNode n = new ObjectMapper().readTree(r.body());
      if (n.path("step").asLong() >= 1) {
        return n;
      }
      assertThat(child.isAlive()).isTrue();
      assertThat(System.nanoTime()).as("a step reported").isLessThan(deadline);
      Thread.sleep(20);
    }
  }
}
