package sh.kaito.runtime;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs {@code src/test/python/oracle.py} (HF transformers + peft) in the virtualenv that {@code
 * hack/setup/30-python-oracle.sh} prepares. Without that environment the ITs fail, so CI cannot
 * pass by skipping them; {@code -Dkaito.oracle.optional=true} turns the failure into a skip for a
 * local run.
 */
public final class Oracle {

  private static final ObjectMapper JSON = new ObjectMapper();

  private Oracle() {}

  public static Path python() {
    String value = System.getenv("KAITO_ORACLE_PYTHON");
    if (value == null || value.isBlank() || !Files.isExecutable(Paths.get(value))) {
      String message =
          "KAITO_ORACLE_PYTHON is not set to a Python with torch/transformers/peft (was '"
              + value
              + "'). Run the tests through hack/test.sh, or `source"
              + " hack/setup/30-python-oracle.sh` first; -Dkaito.oracle.optional=true skips them.";
      if (Boolean.getBoolean("kaito.oracle.optional")) {
        Assumptions.abort(message);
      }
      fail(message);
    }
    return Paths.get(value);
  }

  public static Path script() {
    String dir = System.getProperty("kaito.oracle.scripts", "src/test/python");
    return Paths.get(dir, "oracle.py").toAbsolutePath();
  }

  /** Runs {@code oracle.py args...}; fails the test with the script's output if it fails. */
  public static void run(Path workDir, String... args) throws IOException, InterruptedException {
    runScript("oracle.py", workDir, args);
  }

  /** Runs another script of the oracle's directory (e.g. {@code tune_oracle.py}) the same way. */
  public static void runScript(String script, Path workDir, String... args)
      throws IOException, InterruptedException {
    Files.createDirectories(workDir);
    List<String> command =
        new ArrayList<>(List.of(python().toString(), script().resolveSibling(script).toString()));
    command.addAll(List.of(args));
    Path log = workDir.resolve("oracle.log");
    Process p =
        new ProcessBuilder(command)
            .directory(workDir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    if (!p.waitFor(15, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      fail(script + " timed out: " + command);
    }
    if (p.exitValue() != 0) {
      fail(script + " failed (" + p.exitValue() + "): " + command + "\n" + Files.readString(log));
    }
  }

  /**
   * SmolLM2-135M-Instruct converted once from the GGUF (env KAITO_SMOLLM2_GGUF) to an fp32 HF
   * directory with HF's expectations, cached under $KAITO_CACHE: the directory holding {@code
   * model/} and {@code expected.json}. Fails (or, optional, skips) without the GGUF, as {@link
   * #python()} does.
   */
  public static Path smolLm2() throws IOException, InterruptedException {
    String gguf = System.getenv("KAITO_SMOLLM2_GGUF");
    if (gguf == null || !Files.isRegularFile(Paths.get(gguf))) {
      python(); // same rule as the oracle: fail in CI, skip only when made optional
      fail("KAITO_SMOLLM2_GGUF is not set to the SmolLM2 GGUF; source hack/setup/25-smollm2.sh");
    }
    String cache =
        System.getenv()
            .getOrDefault("KAITO_CACHE", System.getProperty("user.home") + "/.cache/kaito-java");
    Path out = Paths.get(cache, "smollm2-135m-instruct-hf-v1");
    run(out, "smollm2", "--gguf", gguf, "--out", out.toString());
    return out;
  }

  public static JsonNode readJson(Path file) throws IOException {
    return JSON.readTree(file.toFile());
  }

  public static long[] longs(JsonNode array) {
    long[] out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asLong();
    }
    return out;
  }

  /** Where a test class keeps what the oracle wrote: under target/, fresh per run. */
  public static Path workDir(String name) throws IOException {
    Path dir = Paths.get("target", "oracle", name).toAbsolutePath();
    if (Files.exists(dir)) {
      try (var walk = Files.walk(dir)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    return Files.createDirectories(dir);
  }
}
