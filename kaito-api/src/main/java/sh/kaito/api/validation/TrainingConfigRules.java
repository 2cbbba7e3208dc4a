package sh.kaito.api.validation;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;
import sh.kaito.api.v1beta1.TuningSpec;

/**
 * The tuning config ConfigMap ({@code tuning.config}, key {@code training_config.yaml}): upstream
 * Kaito's admission rules for it ({@code api/v1beta1/tuning_config_validation.go}, with its
 * messages), where the controller mounts the training output ({@code PrepareOutputDir}), and the
 * two default templates a workspace without a config gets ({@code lora-params-template}, {@code
 * qlora-params-template} from upstream's Helm chart).
 *
 * <p>Pure: the caller reads the ConfigMap. YAML is read as YAML 1.1 (SnakeYAML), as upstream's Go
 * {@code yaml.v2} reads it, so {@code load_in_4bit: yes} is a boolean in both.
 */
public final class TrainingConfigRules {
  private TrainingConfigRules() {}

  public static final String KEY = "training_config.yaml";
  public static final String DEFAULT_LORA_TEMPLATE = "lora-params-template";
  public static final String DEFAULT_QLORA_TEMPLATE = "qlora-params-template";
  public static final String BASE_DIR = "/mnt";
  public static final String DEFAULT_OUTPUT_DIR = "/mnt/output";

  /** The sections upstream's {@code TrainingConfig} struct has; any other is refused. */
  public static final List<String> SECTIONS =
      List.of(
          "ModelConfig",
          "QuantizationConfig",
          "LoraConfig",
          "TrainingArguments",
          "DatasetConfig",
          "DataCollator");

  /** The default template's ConfigMap name for a method ({@code lora}/{@code qlora}), or null. */
  public static String defaultTemplateName(String method) {
    return switch (method == null ? "" : method.toLowerCase(java.util.Locale.ROOT)) {
      case TuningSpec.METHOD_LORA -> DEFAULT_LORA_TEMPLATE;
      case TuningSpec.METHOD_QLORA -> DEFAULT_QLORA_TEMPLATE;
      default -> null;
    };
  }

  /**
   * The built-in {@code training_config.yaml} of a default template ({@link #defaultTemplateName}).
   *
   * @throws IllegalArgumentException for another name
   */
  public static String defaultTemplate(String templateName) {
    String file =
        switch (templateName) {
          case DEFAULT_LORA_TEMPLATE -> "lora-params.yaml";
          case DEFAULT_QLORA_TEMPLATE -> "qlora-params.yaml";
          default -> throw new IllegalArgumentException("no default template " + templateName);
        };
    try (InputStream in =
        TrainingConfigRules.class.getResourceAsStream("/sh/kaito/api/tuning/" + file)) {
      if (in == null) {
        throw new IllegalStateException("missing resource sh/kaito/api/tuning/" + file);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Upstream's three ConfigMap checks (schema, quantization flags against the method, {@code
   * output_dir}) on the ConfigMap's data. The result's {@link ValidationResult#message()} is what
   * upstream prints after {@code "Failed to evaluate validateConfigMap: "}.
   *
   * @param name the ConfigMap's name, for messages
   * @param namespace where it was read, for messages
   * @param data the ConfigMap's {@code data}
   * @param method the tuning method as written (compared in lower case)
   */
  public static ValidationResult validate(
      String name, String namespace, Map<String, String> data, String method) {
    ValidationReport report = new ValidationReport();
    String methodLower = method == null ? "" : method.toLowerCase(java.util.Locale.ROOT);
    Map<String, String> d = data == null ? Map.of() : data;
    validateSchema(d, report);
    Parsed parsed = parse(name, namespace, d);
    if (parsed.error() != null) {
      report.error(parsed.error(), "config");
    } else {
      validateMethod(name, parsed.sections(), methodLower, report);
      validateTrainingArguments(name, namespace, parsed.sections(), report);
    }
    return report.result();
  }

  /** Where the training output goes, or why the config's {@code output_dir} cannot be used. */
  public sealed interface OutputDir {
    /** An absolute, clean directory under {@code /mnt}. */
    record Resolved(String path) implements OutputDir {}

    /** The config's problem, with upstream's message. */
    record Invalid(String message) implements OutputDir {}
  }

  /**
   * The training output directory from {@code TrainingArguments.output_dir} (upstream's {@code
   * GetTrainingOutputDir}): {@code /mnt/output} when absent; a value not starting with {@code /mnt}
   * is taken relative to {@code /mnt}; {@code /mnt} itself or a path leaving it is refused.
   */
  public static OutputDir outputDir(String name, String namespace, Map<String, String> data) {
    Parsed parsed = parse(name, namespace, data == null ? Map.of() : data);
    if (parsed.error() != null) {
      return new OutputDir.Invalid(parsed.error());
    }
    String dir = "";
    Object args = parsed.sections().get("TrainingArguments");
    if (parsed.sections().containsKey("TrainingArguments")) {
      if (args != null && !(args instanceof Map<?, ?>)) {
        return new OutputDir.Invalid(
            "Failed to parse 'output_dir': " + unmarshalError(args) + ": output_dir");
      }
      Map<?, ?> map = args == null ? Map.of() : (Map<?, ?>) args;
      if (map.containsKey("output_dir")) {
        if (!(map.get("output_dir") instanceof String s)) {
          return new OutputDir.Invalid("invalid value: output_dir is not a string: output_dir");
        }
        dir = s;
      }
    }
    return prepareOutputDir(dir);
  }

  /** Upstream's {@code PrepareOutputDir}. */
  static OutputDir prepareOutputDir(String outputDir) {
    if (outputDir.isEmpty()) {
      return new OutputDir.Resolved(DEFAULT_OUTPUT_DIR);
    }
    String path = outputDir.startsWith(BASE_DIR) ? outputDir : BASE_DIR + "/" + outputDir;
    path = cleanPath(path);
    if (path.equals(BASE_DIR) || !path.startsWith(BASE_DIR)) {
      return new OutputDir.Invalid(
          "invalid output_dir specified: '" + outputDir + "', must be a directory");
    }
    return new OutputDir.Resolved(path);
  }

  // ---- upstream's three checks ----

  private static void validateSchema(Map<String, String> data, ValidationReport report) {
    String text = data.get(KEY);
    if (text == null) {
      report.missingField(KEY + " in ConfigMap");
      return;
    }
    Object root;
    try {
      root = load(text);
    } catch (YAMLException e) {
      report.invalidValue(yamlError(e), KEY);
      return;
    }
    if (root != null && !(root instanceof Map<?, ?>)) {
      report.invalidValue(unmarshalError(root), KEY);
      return;
    }
    Object config = root == null ? null : ((Map<?, ?>) root).get("training_config");
    if (!(config instanceof Map<?, ?> sections)) {
      report.invalidValue("Expected 'training_config' key to contain a map", KEY);
      return;
    }
    for (Object section : sections.keySet()) {
      if (!(section instanceof String s)) {
        report.invalidValue("Section key must be a string", KEY);
        return;
      }
      if (!SECTIONS.contains(s)) {
        report.invalidValue("Unrecognized section: " + s, KEY);
        return;
      }
    }
  }

  private static void validateMethod(
      String name, Map<String, Object> sections, String method, ValidationReport report) {
    String qloraMissing =
        "For method 'qlora', either 'load_in_4bit' or 'load_in_8bit' must be true in ConfigMap '"
            + name
            + "'";
    if (!sections.containsKey("QuantizationConfig")) {
      if (method.equals(TuningSpec.METHOD_QLORA)) {
        report.missingField(qloraMissing, "QuantizationConfig");
      }
      return;
    }
    Object quant = sections.get("QuantizationConfig");
    if (quant != null && !(quant instanceof Map<?, ?>)) {
      report.invalidValue(
          "failed to unmarshal runtime.RawExtension: " + unmarshalError(quant), "load_in_4bit");
      return;
    }
    Map<?, ?> q = quant == null ? Map.of() : (Map<?, ?>) quant;
    for (String flag : List.of("load_in_4bit", "load_in_8bit")) {
      Object v = q.get(flag);
      if (v != null && !(v instanceof Boolean)) {
        report.invalidValue("value must be either nil or a boolean, got type " + goType(v), flag);
        return;
      }
    }
    boolean four = Boolean.TRUE.equals(q.get("load_in_4bit"));
    boolean eight = Boolean.TRUE.equals(q.get("load_in_8bit"));
    if (four && eight) {
      report.error(
          "Cannot set both 'load_in_4bit' and 'load_in_8bit' to true in ConfigMap '" + name + "'",
          "QuantizationConfig");
    } else if (method.equals(TuningSpec.METHOD_LORA) && (four || eight)) {
      report.error(
          "For method 'lora', 'load_in_4bit' or 'load_in_8bit' in ConfigMap '"
              + name
              + "' must not be true",
          "QuantizationConfig");
    } else if (method.equals(TuningSpec.METHOD_QLORA) && !four && !eight) {
      report.missingField(qloraMissing, "QuantizationConfig");
    }
  }

  private static void validateTrainingArguments(
      String name, String namespace, Map<String, Object> sections, ValidationReport report) {
    if (!sections.containsKey("TrainingArguments")) {
      return;
    }
    Object args = sections.get("TrainingArguments");
    if (args != null && !(args instanceof Map<?, ?>)) {
      report.error(
          "Failed to parse 'output_dir' in ConfigMap '"
              + name
              + "' in namespace '"
              + namespace
              + "': failed to unmarshal runtime.RawExtension: "
              + unmarshalError(args),
          "output_dir");
      return;
    }
    Map<?, ?> map = args == null ? Map.of() : (Map<?, ?>) args;
    if (!map.containsKey("output_dir")) {
      return;
    }
    if (!(map.get("output_dir") instanceof String dir)) {
      report.invalidValue(
          "output_dir is not a string in ConfigMap '" + name + "' in namespace '" + namespace + "'",
          "output_dir");
      return;
    }
    // Upstream's webhook joins even an absolute output_dir under /mnt (filepath.Join), so it only
    // refuses /mnt itself and paths that climb out of it.
    String clean = cleanPath(BASE_DIR + "/" + dir);
    if (clean.equals(BASE_DIR) || !clean.startsWith(BASE_DIR)) {
      report.invalidValue(
          "Invalid output_dir specified: '" + dir + "', must be a directory", "output_dir");
    }
  }

  // ---- parsing ----

  /** The sections of {@code training_config}, or upstream's unmarshal error message. */
  private record Parsed(Map<String, Object> sections, String error) {}

  private static Parsed parse(String name, String namespace, Map<String, String> data) {
    String text = data.get(KEY);
    if (text == null) {
      return new Parsed(
          Map.of(),
          "ConfigMap '"
              + name
              + "' does not contain '"
              + KEY
              + "' in namespace '"
              + namespace
              + "'");
    }
    String failed =
        "Failed to parse '"
            + KEY
            + "' in ConfigMap '"
            + name
            + "' in namespace '"
            + namespace
            + "'";
    Object root;
    try {
      root = load(text);
    } catch (YAMLException e) {
      return new Parsed(Map.of(), failed + ": " + yamlError(e));
    }
    if (root != null && !(root instanceof Map<?, ?>)) {
      return new Parsed(Map.of(), failed + ": " + unmarshalError(root));
    }
    Object config = root == null ? null : ((Map<?, ?>) root).get("training_config");
    if (config != null && !(config instanceof Map<?, ?>)) {
      return new Parsed(Map.of(), failed + ": " + unmarshalError(config));
    }
    Map<String, Object> sections = new java.util.LinkedHashMap<>();
    if (config != null) {
      for (var e : ((Map<?, ?>) config).entrySet()) {
        if (e.getKey() instanceof String key && SECTIONS.contains(key)) {
          sections.put(key, e.getValue());
        }
      }
    }
    return new Parsed(sections, null);
  }

  private static Object load(String text) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    options.setMaxAliasesForCollections(50);
    return new Yaml(new SafeConstructor(options)).load(text);
  }

  private static String yamlError(YAMLException e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return "yaml: " + m.replace('\n', ' ').replaceAll(" +", " ").trim();
  }

  /** Go yaml.v2's message for a value that cannot be read as a mapping. */
  private static String unmarshalError(Object value) {
    String tag =
        switch (goType(value)) {
          case "bool" -> "!!bool";
          case "int" -> "!!int";
          case "float64" -> "!!float";
          case "string" -> "!!str";
          case "[]interface {}" -> "!!seq";
          default -> "!!" + goType(value);
        };
    String shown = value instanceof List<?> ? "" : " `" + value + "`";
    return "yaml: unmarshal errors: cannot unmarshal "
        + tag
        + shown
        + " into map[string]interface {}";
  }

  /** The Go type name upstream's {@code %T} prints for a YAML value. */
  static String goType(Object v) {
    if (v instanceof Boolean) {
      return "bool";
    }
    if (v instanceof Integer || v instanceof Long || v instanceof BigInteger) {
      return "int";
    }
    if (v instanceof Double || v instanceof Float) {
      return "float64";
    }
    if (v instanceof String) {
      return "string";
    }
    if (v instanceof List<?>) {
      return "[]interface {}";
    }
    if (v instanceof Map<?, ?>) {
      return "map[interface {}]interface {}";
    }
    if (v instanceof java.util.Date) {
      return "time.Time";
    }
    return v == null ? "<nil>" : v.getClass().getSimpleName();
  }

  /** Go's {@code path.Clean} for a rooted path: no {@code .}, {@code ..} or double slashes. */
  static String cleanPath(String path) {
    List<String> out = new ArrayList<>();
    for (String part : path.split("/")) {
      if (part.isEmpty() || part.equals(".")) {
        continue;
      }
      if (part.equals("..")) {
        if (!out.isEmpty()) {
          out.remove(out.size() - 1);
        }
        continue;
      }
      out.add(part);
    }
    return "/" + String.join("/", out);
  }
}
