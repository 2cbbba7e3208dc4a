package sh.kaito.runtime.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import sh.kaito.runtime.engine.CausalLM;
import sh.kaito.runtime.engine.Devices;
import sh.kaito.runtime.generate.Generation;
import sh.kaito.runtime.generate.Generator;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.generate.TokenListener;
import sh.kaito.runtime.lora.Adapters;

/**
 * The engine's half of bench/gpu/check.sh, on any device: for each case folder that {@code
 * bench/gpu/check.py make} wrote ({@code model/} and {@code case.json} with the prompt ids), the
 * all-position logits and the greedy tokens into {@code java.json}; with {@code --bench}, batch-1
 * greedy decode tokens per second on one model.
 *
 * <pre>
 * DeviceCheck --device cpu|cuda[:N] CASE_DIR...
 * DeviceCheck --device cpu|cuda[:N] --bench MODEL_DIR NEW_TOKENS REPEATS
 * </pre>
 *
 * Prints one {@code key=value} line per case or bench; exit 1 with one line when a model does not
 * load (for example a libtorch the JNI library does not match).
 */
public final class DeviceCheck {
  private static final ObjectMapper JSON = new ObjectMapper();

  private DeviceCheck() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 3 || !args[0].equals("--device")) {
      System.err.println(
          "usage: DeviceCheck --device D CASE_DIR... | --device D --bench MODEL_DIR NEW REPEATS");
      System.exit(2);
    }
    Device device = Devices.parse(args[1]);
    try {
      Engine engine = Engine.getEngine("PyTorch");
      System.out.println(
          "engine libtorch=" + engine.getVersion() + " gpus=" + engine.getGpuCount());
      if (args[2].equals("--bench")) {
        bench(device, Path.of(args[3]), Integer.parseInt(args[4]), Integer.parseInt(args[5]));
      } else {
        for (int i = 2; i < args.length; i++) {
          runCase(device, Path.of(args[i]));
        }
      }
    } catch (Exception | UnsatisfiedLinkError e) {
      System.out.println(
          "error=" + (e.getClass().getSimpleName() + ": " + e.getMessage()).replace('\n', ' '));
      System.exit(1);
    }
  }

  private static void runCase(Device device, Path dir) throws Exception {
    JsonNode spec = JSON.readTree(dir.resolve("case.json").toFile());
    long[] ids = longs(spec.get("ids"));
    long[] prompt = longs(spec.get("gen_prompt"));
    int newTokens = spec.get("new_tokens").asInt();
    long t0 = System.nanoTime();
    try (CausalLM model = CausalLM.load(dir.resolve("model"), device)) {
      double loadSeconds = (System.nanoTime() - t0) / 1e9;
      float[][] logits = model.logits(ids, Adapters.NONE);
      Generation out =
          new Generator(model, null)
              .generate(
                  prompt,
                  SamplingParams.greedy(newTokens, Set.of()),
                  Adapters.NONE,
                  TokenListener.NONE);
      ObjectNode result = JSON.createObjectNode();
      ArrayNode flat = result.putArray("logits");
      for (float[] row : logits) {
        for (float v : row) {
          flat.add(v);
        }
      }
      ArrayNode generated = result.putArray("generated");
      for (long t : out.tokens()) {
        generated.add(t);
      }
      result.put("dtype", model.dataType().toString());
      result.put("load_s", loadSeconds);
      JSON.writeValue(dir.resolve("java.json").toFile(), result);
      System.out.printf(
          "case=%s dtype=%s load_s=%.2f%n", dir.getFileName(), model.dataType(), loadSeconds);
    }
  }

  private static void bench(Device device, Path dir, int newTokens, int repeats) throws Exception {
    try (CausalLM model = CausalLM.load(dir, device)) {
      long[] prompt = new long[16];
      for (int i = 0; i < prompt.length; i++) {
        prompt[i] = 3 + (i * 7919L) % (model.config().vocabSize() - 3);
      }
      SamplingParams greedy =
          SamplingParams.builder().maxNewTokens(newTokens).minNewTokens(newTokens).build();
      Generator generator = new Generator(model, null);
      List<Double> rates = new ArrayList<>();
      for (int r = 0; r <= repeats; r++) {
        DecodeClock clock = new DecodeClock();
        generator.generate(prompt, greedy, Adapters.NONE, clock);
        if (r > 0) { // round 0 warms up
          rates.add(clock.tokensPerSecond());
        }
      }
      double best = rates.stream().mapToDouble(Double::doubleValue).max().orElse(0);
      System.out.printf(
          "bench side=java device=%s dtype=%s decode_tok_s=%.1f%n", device, model.dataType(), best);
    }
  }

  /** Decode rate: tokens after the first (prefill's) over the time from the first to the last. */
  private static final class DecodeClock implements TokenListener {
    private long first;
    private long last;
    private int count;

    @Override
    public void onToken(long token) {
      last = System.nanoTime();
      if (count++ == 0) {
        first = last;
      }
    }

    double tokensPerSecond() {
      return count > 1 ? (count - 1) / ((last - first) / 1e9) : 0;
    }
  }

  private static long[] longs(JsonNode array) {
    long[] out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asLong();
    }
    return out;
  }
}
