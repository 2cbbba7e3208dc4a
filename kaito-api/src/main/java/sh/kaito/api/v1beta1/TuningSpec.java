package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Locale;

/**
 * {@code tuning}: fine-tune a preset with LoRA or QLoRA and write the adapter out.
 *
 * @param preset the model to tune (required)
 * @param method {@code lora} or {@code qlora}, case-insensitive
 * @param config name of a ConfigMap with key {@code training_config.yaml}; a method default when
 *     empty
 * @param input the training data
 * @param output where the adapter goes
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TuningSpec(
    PresetSpec preset, String method, String config, DataSource input, DataDestination output) {

  public static final String METHOD_LORA = "lora";
  public static final String METHOD_QLORA = "qlora";

  /** The method in lower case ({@code lora}, {@code qlora}, or whatever else was written). */
  public String normalizedMethod() {
    return method == null ? "" : method.toLowerCase(Locale.ROOT);
  }

  public TuningSpec withInput(DataSource newInput) {
    return new TuningSpec(preset, method, config, newInput, output);
  }

  public TuningSpec withOutput(DataDestination newOutput) {
    return new TuningSpec(preset, method, config, input, newOutput);
  }
}
