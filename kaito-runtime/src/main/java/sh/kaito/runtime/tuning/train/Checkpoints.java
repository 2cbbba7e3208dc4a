package sh.kaito.runtime.tuning.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.runtime.model.ModelFormatException;
import sh.kaito.runtime.model.SafetensorsFile;
import sh.kaito.runtime.model.SafetensorsWriter;
import sh.kaito.runtime.model.SafetensorsWriter.FloatTensor;

/**
 * Training checkpoints in the output directory, as the HF Trainer names them: {@code
 * checkpoint-<step>/} holds the adapter (PEFT's two files), {@code optimizer.safetensors} (AdamW's
 * moments) and {@code trainer_state.json} (the step). Data position and dropout masks follow from
 * the step, so nothing else is needed to resume. A checkpoint is written under a temporary name and
 * renamed when complete: a process killed while writing leaves no checkpoint that looks whole.
 */
public final class Checkpoints {

  private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);
  private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");
  private static final String STATE = "trainer_state.json";
  private static final String OPTIMIZER = "optimizer.safetensors";

  private final Path outputDir;
  private final NDManager manager;
  private final int keep;

  /**
   * @param manager where tensors read back from a checkpoint are staged (briefly)
   * @param keep {@code save_total_limit}: how many checkpoints to keep, the newest (0: all)
   */
  public Checkpoints(Path outputDir, NDManager manager, int keep) {
    this.outputDir = outputDir;
    this.manager = manager;
    this.keep = keep;
  }

  /** A checkpoint read back. */
  record Saved(
      Path dir,
      int step,
      Path weights,
      Map<String, float[]> firstMoments,
      Map<String, float[]> secondMoments) {}

  /** The newest complete checkpoint, or null when there is none. */
  Saved latest() throws IOException {
    if (!Files.isDirectory(outputDir)) {
      return null;
    }
    java.util.TreeMap<Integer, Path> all = complete();
    if (all.isEmpty()) {
      return null;
    }
    int newestStep = all.lastKey();
    Path newest = all.lastEntry().getValue();
    JsonNode state = new ObjectMapper().readTree(newest.resolve(STATE).toFile());
    int step = state.path("global_step").asInt(-1);
    if (step != newestStep) {
      throw new ModelFormatException(
          newest.resolve(STATE) + ": global_step " + step + " does not match the directory name");
    }
    Map<String, float[]> first = new LinkedHashMap<>();
    Map<String, float[]> second = new LinkedHashMap<>();
    SafetensorsFile moments = SafetensorsFile.open(newest.resolve(OPTIMIZER));
    for (String key : moments.tensors().keySet()) {
      try (NDArray a = moments.load(key, manager, DataType.FLOAT32)) {
        if (key.startsWith("exp_avg_sq.")) {
          second.put(key.substring("exp_avg_sq.".length()), a.toFloatArray());
        } else if (key.startsWith("exp_avg.")) {
          first.put(key.substring("exp_avg.".length()), a.toFloatArray());
        }
      }
    }
    return new Saved(newest, step, newest.resolve("adapter_model.safetensors"), first, second);
  }

  /** The complete checkpoints by step. */
  private java.util.TreeMap<Integer, Path> complete() throws IOException {
    java.util.TreeMap<Integer, Path> out = new java.util.TreeMap<>();
    try (Stream<Path> entries = Files.list(outputDir)) {
      for (Path p : (Iterable<Path>) entries::iterator) {
        Matcher m = NAME.matcher(p.getFileName().toString());
        if (m.matches() && Files.isRegularFile(p.resolve(STATE))) {
          out.put(Integer.parseInt(m.group(1)), p);
        }
      }
    }
    return out;
  }

  /** Writes {@code checkpoint-<step>} (replacing one of that step). */
  void save(int step, LoraParameters params, AdamW optimizer, TrainingPlan plan)
      throws IOException {
    Path dir = outputDir.resolve("checkpoint-" + step);
    Path tmp = outputDir.resolve(".checkpoint-" + step + ".tmp");
    deleteTree(tmp);
    Files.createDirectories(tmp);
    params.save(tmp, plan, "");
    Map<String, FloatTensor> moments = new LinkedHashMap<>();
    params
        .tensors()
        .forEach(
            (key, t) -> {
              moments.put(
                  "exp_avg." + key, new FloatTensor(t.shape(), optimizer.firstMoments().get(key)));
              moments.put(
                  "exp_avg_sq." + key,
                  new FloatTensor(t.shape(), optimizer.secondMoments().get(key)));
            });
    SafetensorsWriter.write(tmp.resolve(OPTIMIZER), moments, Map.of());
    // The state file last: latest() only takes directories that have it.
    Files.writeString(
        tmp.resolve(STATE), "{\"global_step\":" + step + ",\"seed\":" + plan.seed() + "}\n");
    deleteTree(dir);
    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    LOG.info("tune checkpoint dir={} step={}", dir, step);
    if (keep > 0) {
      java.util.TreeMap<Integer, Path> all = complete();
      while (all.size() > keep) {
        deleteTree(all.pollFirstEntry().getValue());
      }
    }
  }

  /** Removes leftovers of checkpoints a killed process was writing. */
  public void removeIncomplete() throws IOException {
    if (!Files.isDirectory(outputDir)) {
      return;
    }
    try (Stream<Path> entries = Files.list(outputDir)) {
      for (Path p : (Iterable<Path>) entries::iterator) {
        String name = p.getFileName().toString();
        if (name.startsWith(".checkpoint-") && name.endsWith(".tmp")) {
          deleteTree(p);
        }
      }
    }
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      walk.sorted(Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.delete(p);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    }
  }
}
