package sh.kaito.runtime.tuning.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import sh.kaito.runtime.model.ModelFormatException;
import sh.kaito.runtime.model.SafetensorsFile;
import sh.kaito.runtime.model.SafetensorsWriter;
import sh.kaito.runtime.model.SafetensorsWriter.FloatTensor;

/**
 * The trainable LoRA weights, held in Java as fp32 master copies by PEFT key without the {@code
 * base_model.model.} prefix ({@code model.layers.0.self_attn.q_proj.lora_A.weight}, [r, in]; {@code
 * ...lora_B.weight}, [out, r]). Saved as a PEFT adapter directory.
 */
final class LoraParameters {

  static final String PEFT_PREFIX = "base_model.model.";
  static final String A = ".lora_A.weight";
  static final String B = ".lora_B.weight";

  private final List<String> modules;
  private final Map<String, FloatTensor> tensors;

  private LoraParameters(List<String> modules, Map<String, FloatTensor> tensors) {
    this.modules = List.copyOf(modules);
    this.tensors = tensors;
  }

  /**
   * PEFT's initialisation, drawn in module order: with {@code init_lora_weights=True} A from {@code
   * kaiming_uniform_(a=sqrt(5))}, i.e. uniform in ±1/sqrt(in), and B zero; with false B is drawn
   * the same way (±1/sqrt(r)), as {@code nn.Linear} initialises it.
   *
   * @param shapes each module's weight shape {out, in}
   */
  static LoraParameters initialize(
      Map<String, long[]> shapes, int rank, boolean peftInit, SplittableRandom rng) {
    Map<String, FloatTensor> t = new LinkedHashMap<>();
    for (var e : shapes.entrySet()) {
      long out = e.getValue()[0];
      long in = e.getValue()[1];
      float[] a = new float[Math.toIntExact(rank * in)];
      double bound = 1 / Math.sqrt(in);
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
      }
      float[] b = new float[Math.toIntExact(out * rank)];
      if (!peftInit) {
        double bBound = 1 / Math.sqrt(rank);
        for (int i = 0; i < b.length; i++) {
          b[i] = (float) ((rng.nextDouble() * 2 - 1) * bBound);
        }
      }
      t.put(e.getKey() + A, new FloatTensor(new long[] {rank, in}, a));
      t.put(e.getKey() + B, new FloatTensor(new long[] {out, rank}, b));
    }
    return new LoraParameters(List.copyOf(shapes.keySet()), t);
  }

  /**
   * The A and B weights of {@code shapes}' modules from a safetensors file with PEFT keys (an
   * adapter to start from, or a checkpoint).
   */
  static LoraParameters load(Path file, Map<String, long[]> shapes, int rank, NDManager manager)
      throws IOException {
    SafetensorsFile st = SafetensorsFile.open(file);
    Map<String, FloatTensor> t = new LinkedHashMap<>();
    for (var e : shapes.entrySet()) {
      long[][] expected = {{rank, e.getValue()[1]}, {e.getValue()[0], rank}};
      String[] keys = {e.getKey() + A, e.getKey() + B};
      for (int i = 0; i < 2; i++) {
        String key = PEFT_PREFIX + keys[i];
        if (!st.tensors().containsKey(key)) {
          throw new ModelFormatException(file + ": no tensor " + key);
        }
        try (NDArray a = st.load(key, manager, DataType.FLOAT32)) {
          if (!java.util.Arrays.equals(a.getShape().getShape(), expected[i])) {
            throw new ModelFormatException(
                file + ": " + key + " has shape " + a.getShape() + ", expected rank " + rank);
          }
          t.put(keys[i], new FloatTensor(expected[i], a.toFloatArray()));
        }
      }
    }
    return new LoraParameters(List.copyOf(shapes.keySet()), t);
  }

  List<String> modules() {
    return modules;
  }

  /** Key -> tensor, in module order (A then B per module). */
  Map<String, FloatTensor> tensors() {
    return tensors;
  }

  /** Key -> the live fp32 data (the optimizer updates it in place). */
  Map<String, float[]> data() {
    Map<String, float[]> out = new LinkedHashMap<>();
    tensors.forEach((k, v) -> out.put(k, v.data()));
    return out;
  }

  /** Writes the weights with PEFT's keys to {@code file}. */
  void writeWeights(Path file) throws IOException {
    Map<String, FloatTensor> prefixed = new LinkedHashMap<>();
    tensors.forEach((k, v) -> prefixed.put(PEFT_PREFIX + k, v));
    SafetensorsWriter.write(file, prefixed, Map.of("format", "pt"));
  }

  /**
   * Writes {@code adapter_config.json} and {@code adapter_model.safetensors} into {@code dir}, as
   * PEFT's {@code save_pretrained} does for a LoRA adapter of a causal LM.
   */
  void save(Path dir, TrainingPlan plan, String baseModel) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode c = json.createObjectNode();
    c.put("peft_type", "LORA");
    c.put("task_type", "CAUSAL_LM");
    c.put("base_model_name_or_path", baseModel);
    c.put("r", plan.rank());
    if (plan.alpha() == Math.rint(plan.alpha())) {
      c.put("lora_alpha", (long) plan.alpha());
    } else {
      c.put("lora_alpha", plan.alpha());
    }
    c.put("lora_dropout", plan.dropout());
    c.put("use_rslora", plan.rslora());
    c.set("target_modules", json.valueToTree(plan.targets().peftValue(modules)));
    c.put("bias", "none");
    c.put("fan_in_fan_out", false);
    c.put("init_lora_weights", plan.peftInit());
    c.put("inference_mode", true);
    c.put("use_dora", false);
    c.putNull("modules_to_save");
    if (plan.layers() == null) {
      c.putNull("layers_to_transform");
    } else {
      c.set("layers_to_transform", json.valueToTree(plan.layers()));
    }
    c.putObject("rank_pattern");
    c.putObject("alpha_pattern");
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("adapter_config.json"),
        json.writerWithDefaultPrettyPrinter().writeValueAsString(c));
    writeWeights(dir.resolve("adapter_model.safetensors"));
  }
}
