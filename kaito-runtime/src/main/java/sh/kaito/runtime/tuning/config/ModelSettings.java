package sh.kaito.runtime.tuning.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The {@code ModelConfig} section (upstream's {@code cli.ModelConfig}: the arguments of {@code
 * AutoModelForCausalLM.from_pretrained} plus a chat template).
 *
 * @param pretrainedModelNameOrPath where upstream loads the model from; the {@code tune} command's
 *     {@code --weights} is where the Job mounts it
 * @param torchDtype the requested dtype name, or null; kaito-runtime computes in float32 on the CPU
 *     whatever is asked (see {@link #computesInFloat32Instead()})
 * @param chatTemplate the chat template text that replaces the tokenizer's, or null: upstream reads
 *     it from a file, or takes it inline (with Python escapes decoded) when it contains a brace or
 *     a newline
 */
public record ModelSettings(
    String pretrainedModelNameOrPath, String torchDtype, String deviceMap, String chatTemplate) {

  public static final String DEFAULT_MODEL_PATH = "/workspace/tfs/weights";

  /** True when the requested dtype is a half-precision one that the CPU run widens to float32. */
  public boolean computesInFloat32Instead() {
    return torchDtype != null && !isFloat32(torchDtype);
  }

  private static boolean isFloat32(String dtype) {
    return dtype.equals("float32") || dtype.equals("float");
  }

  static ModelSettings parse(Section s) {
    String path = s.string("pretrained_model_name_or_path", DEFAULT_MODEL_PATH);
    String dtype = s.string("torch_dtype", null);
    if (dtype != null) {
      dtype = dtype.trim();
      if (dtype.startsWith("torch.")) {
        dtype = dtype.substring("torch.".length());
      }
      switch (dtype.toLowerCase(Locale.ROOT)) {
        case "float32", "float", "bfloat16", "float16", "half" -> {}
        case "float64", "double" ->
            throw s.error(
                "torch_dtype", "'" + dtype + "' is not supported (training runs in float32)");
        default ->
            throw s.error(
                "torch_dtype",
                "invalid torch dtype '" + dtype + "' (float32, bfloat16 or float16)");
      }
    }
    String deviceMap = s.string("device_map", "auto");
    s.noEffect(
        // Loading is always from local files, without a cache or hub, in one process.
        "local_files_only",
        "cache_dir",
        "force_download",
        "resume_download",
        "proxies",
        "output_loading_info");
    s.onlyUnset("state_dict", "the weights come from the model directory");
    s.onlyBool("from_tf", false, false, "only safetensors weights are read");
    s.onlyBool("trust_remote_code", false, false, "kaito-runtime runs no model-supplied code");
    s.onlyBool("load_in_4bit", false, false, "set QuantizationConfig.load_in_4bit instead");
    s.onlyBool("load_in_8bit", false, false, "8-bit quantization is not supported");
    String revision = s.string("revision", "main");
    if (!revision.equals("main")) {
      throw s.error(
          "revision", "'" + revision + "' is not supported (the mounted weights are used)");
    }
    String template = s.string("chat_template", null);
    if (template != null) {
      template = resolveChatTemplate(s, template);
    }
    return new ModelSettings(path, dtype, deviceMap, template);
  }

  /** As upstream's {@code parser.load_chat_template}. */
  private static String resolveChatTemplate(Section s, String value) {
    if (value.indexOf('{') >= 0 || value.indexOf('}') >= 0 || value.indexOf('\n') >= 0) {
      return PythonEscapes.decode(value);
    }
    try {
      return Files.readString(Path.of(value));
    } catch (NoSuchFileException e) {
      throw s.error("chat_template", "no such file: " + value);
    } catch (IOException e) {
      throw s.error("chat_template", "cannot read " + value + ": " + e.getMessage());
    }
  }
}
