package sh.kaito.runtime.tuning.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * One section of {@code training_config.yaml}, read the way upstream's {@code parser.py} reads it:
 * every value is flattened to its string form and converted by {@code HfArgumentParser} (so {@code
 * "2e-4"} is a float, {@code "yes"} a boolean, a scalar where a list is expected a one-element
 * list), and a key the section does not read is an error. Nested maps are rejected unless empty,
 * since upstream flattens them into keys no dataclass has.
 */
final class Section {

  private final String name;
  private final Map<String, JsonNode> values = new LinkedHashMap<>();
  private final Set<String> read = new LinkedHashSet<>();

  Section(String name, JsonNode node) {
    this.name = name;
    if (node == null || node.isNull() || node.isMissingNode()) {
      return;
    }
    if (!node.isObject()) {
      throw new TrainingConfigException(name + ": expected a map of keys, got '" + node + "'");
    }
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      JsonNode v = e.getValue();
      if (v.isObject() && v.isEmpty()) {
        read.add(e.getKey()); // upstream's flattening emits nothing for an empty map: the default
        continue;
      }
      if (v.isObject()) {
        throw error(
            e.getKey(),
            "a nested map is not accepted (upstream flattens it into '"
                + e.getKey()
                + "_<key>' options, which do not exist)");
      }
      values.put(e.getKey(), v);
    }
  }

  String name() {
    return name;
  }

  boolean has(String key) {
    return values.containsKey(key);
  }

  TrainingConfigException error(String key, String problem) {
    return new TrainingConfigException(name + "." + key + ": " + problem);
  }

  /** The raw value (null when absent or YAML null), marking the key as read. */
  private JsonNode take(String key) {
    read.add(key);
    JsonNode v = values.get(key);
    return v == null || v.isNull() ? null : v;
  }

  String string(String key, String defaultValue) {
    JsonNode v = take(key);
    if (v == null) {
      return defaultValue;
    }
    if (v.isContainerNode()) {
      throw error(key, "expected a string, got " + v);
    }
    return v.asText();
  }

  boolean bool(String key, boolean defaultValue) {
    JsonNode v = take(key);
    if (v == null) {
      return defaultValue;
    }
    if (v.isBoolean()) {
      return v.booleanValue();
    }
    String s = v.asText().trim().toLowerCase(Locale.ROOT);
    switch (s) {
      case "yes", "true", "t", "y", "1", "on":
        return true;
      case "no", "false", "f", "n", "0", "off":
        return false;
      default:
        throw error(key, "expected a boolean (true/false), got '" + v.asText() + "'");
    }
  }

  /** An optional boolean: absent, null or {@code None} give null (upstream's tri-state options). */
  Boolean optionalBool(String key) {
    JsonNode v = values.get(key);
    if (v == null || v.isNull() || v.asText().equals("None")) {
      read.add(key);
      return null;
    }
    return bool(key, false);
  }

  int integer(String key, int defaultValue) {
    Integer v = optionalInteger(key);
    return v == null ? defaultValue : v;
  }

  /** An integer, or null when absent or null. {@code "8.0"} is refused, as Python's int() does. */
  Integer optionalInteger(String key) {
    JsonNode v = take(key);
    if (v == null || v.asText().equals("None")) {
      return null;
    }
    if (v.isIntegralNumber() && v.canConvertToInt()) {
      return v.intValue();
    }
    try {
      return Integer.parseInt(v.asText().trim());
    } catch (NumberFormatException e) {
      throw error(key, "expected an integer, got '" + v.asText() + "'");
    }
  }

  double number(String key, double defaultValue) {
    Double v = optionalNumber(key);
    return v == null ? defaultValue : v;
  }

  Double optionalNumber(String key) {
    JsonNode v = take(key);
    if (v == null) {
      return null;
    }
    if (v.isNumber()) {
      return v.doubleValue();
    }
    try {
      return Double.parseDouble(v.asText().trim());
    } catch (NumberFormatException e) {
      throw error(key, "expected a number, got '" + v.asText() + "'");
    }
  }

  /** A list of strings; a scalar is a one-element list (argparse's nargs); null when absent. */
  List<String> strings(String key) {
    JsonNode v = take(key);
    if (v == null) {
      return null;
    }
    List<String> out = new ArrayList<>();
    if (v.isArray()) {
      for (JsonNode item : v) {
        if (item.isContainerNode()) {
          throw error(key, "expected a list of strings, got " + v);
        }
        out.add(item.asText());
      }
    } else {
      out.add(v.asText());
    }
    return List.copyOf(out);
  }

  List<Integer> integers(String key) {
    List<String> raw = strings(key);
    if (raw == null) {
      return null;
    }
    List<Integer> out = new ArrayList<>();
    for (String s : raw) {
      try {
        out.add(Integer.parseInt(s.trim()));
      } catch (NumberFormatException e) {
        throw error(key, "expected a list of integers, got '" + s + "'");
      }
    }
    return List.copyOf(out);
  }

  /**
   * A key accepted with any value because it changes nothing here (single process, local files, no
   * hub). The value is still type-checked loosely: a nested map was refused above.
   */
  void noEffect(String... keys) {
    for (String key : keys) {
      read.add(key);
    }
  }

  /** A string option whose value must be one of {@code allowed} (compared case-sensitively). */
  String oneOf(String key, String defaultValue, String why, String... allowed) {
    String v = string(key, defaultValue);
    if (v == null) {
      return null;
    }
    for (String a : allowed) {
      if (a.equals(v)) {
        return v;
      }
    }
    throw error(
        key,
        "'"
            + v
            + "' is not supported ("
            + why
            + "; supported: "
            + String.join(", ", allowed)
            + ")");
  }

  /** A boolean option kaito-runtime supports only at {@code supported}. */
  void onlyBool(String key, boolean defaultValue, boolean supported, String why) {
    if (bool(key, defaultValue) != supported) {
      throw error(key, supported + " is the only supported value (" + why + ")");
    }
  }

  /** An option kaito-runtime supports only when absent or null (or an empty list). */
  void onlyUnset(String key, String why) {
    JsonNode v = take(key);
    if (v != null && !(v.isArray() && v.isEmpty()) && !v.asText().equals("None")) {
      throw error(key, "'" + text(v) + "' is not supported (" + why + ")");
    }
  }

  /** A number option kaito-runtime supports only at {@code supported}. */
  void onlyNumber(String key, double supported, String why) {
    Double v = optionalNumber(key);
    if (v != null && !Objects.equals(v, supported)) {
      throw error(key, v + " is not supported (" + why + "; only " + supported + ")");
    }
  }

  private static String text(JsonNode v) {
    return v.isValueNode() ? v.asText() : v.toString();
  }

  /** Fails on the first key no read consumed. */
  void finish() {
    for (String key : values.keySet()) {
      if (!read.contains(key)) {
        throw error(
            key,
            "unknown or unsupported option (kaito-runtime tune accepts: "
                + String.join(", ", read)
                + ")");
      }
    }
  }
}
