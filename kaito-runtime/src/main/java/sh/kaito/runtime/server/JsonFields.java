package sh.kaito.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.DoublePredicate;

/**
 * Typed, optional fields of a JSON request object. Every accessor either returns a value of the
 * right type and range or throws a 400 {@link ApiException} naming the field, so no handler sees a
 * wrong type. A JSON {@code null} counts as absent, as in OpenAI's and Pydantic's APIs.
 */
final class JsonFields {

  private final ObjectNode node;
  private final String prefix;

  private JsonFields(ObjectNode node, String prefix) {
    this.node = node;
    this.prefix = prefix;
  }

  /** The request body, which must be a JSON object. */
  static JsonFields of(JsonNode body) {
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest(
          "the request body must be a JSON object, got " + kind(body), null);
    }
    return new JsonFields((ObjectNode) body, "");
  }

  /** A nested object field; absent or null gives an empty object. */
  JsonFields object(String name) {
    JsonNode v = value(name);
    if (v == null) {
      return new JsonFields(node.objectNode(), path(name) + ".");
    }
    if (!v.isObject()) {
      throw wrongType(name, "an object", v);
    }
    return new JsonFields((ObjectNode) v, path(name) + ".");
  }

  boolean has(String name) {
    return value(name) != null;
  }

  /** The raw value, or null when absent or JSON null. */
  JsonNode value(String name) {
    JsonNode v = node.get(name);
    return v == null || v.isNull() ? null : v;
  }

  List<String> fieldNames() {
    List<String> names = new ArrayList<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      names.add(it.next());
    }
    return names;
  }

  String string(String name, String fallback) {
    JsonNode v = value(name);
    if (v == null) {
      return fallback;
    }
    if (!v.isTextual()) {
      throw wrongType(name, "a string", v);
    }
    return v.asText();
  }

  boolean bool(String name, boolean fallback) {
    JsonNode v = value(name);
    if (v == null) {
      return fallback;
    }
    if (!v.isBoolean()) {
      throw wrongType(name, "true or false", v);
    }
    return v.asBoolean();
  }

  /** An integer in [min, max]; integral floats such as {@code 10.0} are accepted (as Pydantic). */
  Integer integer(String name, Integer fallback, long min, long max) {
    JsonNode v = value(name);
    if (v == null) {
      return fallback;
    }
    long l = asLong(name, v);
    if (l < min || l > max) {
      throw ApiException.badRequest(
          "'" + path(name) + "' must be between " + min + " and " + max + ", got " + l, path(name));
    }
    return (int) l;
  }

  Long longValue(String name, Long fallback) {
    JsonNode v = value(name);
    if (v == null) {
      return fallback;
    }
    return asLong(name, v);
  }

  /** A number in [min, max] (both inclusive). */
  Double number(String name, Double fallback, double min, double max) {
    return number(name, fallback, d -> d >= min && d <= max, "between " + min + " and " + max);
  }

  /** A number that must be strictly above {@code exclusiveMin} and at most {@code max}. */
  Double positive(String name, Double fallback, double exclusiveMin, double max) {
    return number(
        name, fallback, d -> d > exclusiveMin && d <= max, "> " + exclusiveMin + " and <= " + max);
  }

  private Double number(String name, Double fallback, DoublePredicate ok, String range) {
    JsonNode v = value(name);
    if (v == null) {
      return fallback;
    }
    if (!v.isNumber()) {
      throw wrongType(name, "a number", v);
    }
    double d = v.asDouble();
    if (!ok.test(d)) {
      throw ApiException.badRequest(
          "'" + path(name) + "' must be " + range + ", got " + v, path(name));
    }
    return d;
  }

  /** A string or a list of strings (OpenAI's {@code stop}); absent gives an empty list. */
  List<String> strings(String name, int maxItems) {
    JsonNode v = value(name);
    List<String> out = new ArrayList<>();
    if (v == null) {
      return out;
    }
    if (v.isTextual()) {
      out.add(v.asText());
    } else if (v.isArray()) {
      for (JsonNode item : v) {
        if (!item.isTextual()) {
          throw wrongType(name, "a string or a list of strings", v);
        }
        out.add(item.asText());
      }
    } else {
      throw wrongType(name, "a string or a list of strings", v);
    }
    if (out.size() > maxItems) {
      throw ApiException.badRequest(
          "'" + path(name) + "' takes at most " + maxItems + " strings, got " + out.size(),
          path(name));
    }
    for (String s : out) {
      if (s.isEmpty()) {
        throw ApiException.badRequest(
            "'" + path(name) + "' must not contain an empty string", path(name));
      }
    }
    return out;
  }

  /** An integer or a list of integers (HF's {@code eos_token_id}); absent gives null. */
  List<Long> longs(String name) {
    JsonNode v = value(name);
    if (v == null) {
      return null;
    }
    List<Long> out = new ArrayList<>();
    if (v.isArray()) {
      for (JsonNode item : v) {
        out.add(asLong(name, item));
      }
    } else {
      out.add(asLong(name, v));
    }
    return out;
  }

  String path(String name) {
    return prefix + name;
  }

  ApiException wrongType(String name, String expected, JsonNode got) {
    return ApiException.badRequest(
        "'" + path(name) + "' must be " + expected + ", got " + kind(got), path(name));
  }

  private long asLong(String name, JsonNode v) {
    if (v.isIntegralNumber() && v.canConvertToLong()) {
      return v.asLong();
    }
    if (v.isFloatingPointNumber()
        && v.asDouble() == Math.rint(v.asDouble())
        && Math.abs(v.asDouble()) < 0x1p53) {
      return (long) v.asDouble();
    }
    throw wrongType(name, "an integer", v);
  }

  static String kind(JsonNode v) {
    if (v == null || v.isNull() || v.isMissingNode()) {
      return "null";
    }
    if (v.isTextual()) {
      return "a string";
    }
    if (v.isBoolean()) {
      return "a boolean";
    }
    if (v.isIntegralNumber()) {
      return "the integer " + v.asText();
    }
    if (v.isNumber()) {
      return "the number " + v.asText();
    }
    if (v.isArray()) {
      return "a list";
    }
    return "an object";
  }
}
