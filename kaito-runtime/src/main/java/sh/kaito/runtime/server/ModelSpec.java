package sh.kaito.runtime.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What to serve: a HF model directory under a name, plus LoRA adapters, each under its own name
 * (the {@code model} an OpenAI client asks for) with the strength it is applied with.
 */
public record ModelSpec(Path weights, String servedName, List<AdapterSpec> adapters) {

  public ModelSpec {
    adapters = List.copyOf(adapters);
    if (servedName == null || servedName.isBlank()) {
      throw new IllegalArgumentException("the served model name must not be empty");
    }
    List<String> names = new ArrayList<>(List.of(servedName));
    for (AdapterSpec a : adapters) {
      if (names.contains(a.name())) {
        throw new IllegalArgumentException(
            "two models would be served as '" + a.name() + "'; names must be unique");
      }
      names.add(a.name());
    }
  }

  /** One adapter directory ({@code adapter_config.json} + {@code adapter_model.safetensors}). */
  public record AdapterSpec(String name, Path dir, float strength) {
    public AdapterSpec {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("an adapter needs a name");
      }
      if (!Float.isFinite(strength)) {
        throw new IllegalArgumentException(
            "adapter " + name + ": strength must be a finite number, got " + strength);
      }
    }
  }

  /**
   * The adapters of a directory: every sub-directory holding {@code adapter_config.json}, named
   * after the sub-directory, sorted by name (upstream's {@code /mnt/adapter} layout).
   */
  public static List<Path> adapterDirs(Path parent) throws IOException {
    if (!Files.isDirectory(parent)) {
      throw new IOException("adapters directory " + parent + " does not exist");
    }
    try (Stream<Path> children = Files.list(parent)) {
      return children
          .filter(d -> Files.isRegularFile(d.resolve("adapter_config.json")))
          .sorted()
          .toList();
    }
  }

  /**
   * An adapter's strength from the environment variable named after it (upstream's convention:
   * {@code <name>=<strength>}), 1 when unset.
   */
  public static float strengthFromEnvironment(String adapterName, Map<String, String> env) {
    String value = env.get(adapterName);
    if (value == null || value.isBlank()) {
      return 1f;
    }
    try {
      float f = Float.parseFloat(value.trim());
      if (!Float.isFinite(f)) {
        throw new NumberFormatException();
      }
      return f;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "environment variable "
              + adapterName
              + "='"
              + value
              + "' is not a number (the strength of adapter "
              + adapterName
              + ")");
    }
  }
}
