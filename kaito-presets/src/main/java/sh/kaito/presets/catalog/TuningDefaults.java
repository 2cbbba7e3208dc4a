package sh.kaito.presets.catalog;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * Upstream's default tuning ConfigMaps ({@code lora-params-template}, {@code
 * qlora-params-template}): the {@code training_config.yaml} text a tuning Job gets when the user
 * names no ConfigMap.
 */
public enum TuningDefaults {
  LORA("lora-params.yaml"),
  QLORA("qlora-params.yaml");

  private final String resource;

  TuningDefaults(String file) {
    this.resource = "/sh/kaito/presets/tuning/" + file;
  }

  /** The method name as written in {@code tuning.method}. */
  public String method() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** The YAML text of {@code training_config.yaml}. */
  public String trainingConfigYaml() {
    try (InputStream in = TuningDefaults.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + resource);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The defaults for a {@code tuning.method}, if it is one of lora or qlora. */
  public static java.util.Optional<TuningDefaults> forMethod(String method) {
    for (TuningDefaults d : values()) {
      if (d.method().equalsIgnoreCase(method)) {
        return java.util.Optional.of(d);
      }
    }
    return java.util.Optional.empty();
  }
}
