package sh.kaito.api.validation;

import java.util.regex.Pattern;

/**
 * Parses adapter strengths the way upstream does (Go's {@code strconv.ParseFloat}), so the same
 * strings are accepted and a bad one gets Go's message. Java's own parser is looser: it takes
 * {@code "1.0f"}, {@code "1d"} and surrounding spaces, which upstream rejects.
 */
final class GoFloats {
  private GoFloats() {}

  private static final Pattern DECIMAL =
      Pattern.compile("[+-]?(\\d+(_\\d+)*\\.?(\\d+(_\\d+)*)?|\\.\\d+(_\\d+)*)([eE][+-]?\\d+)?");
  private static final Pattern SPECIAL = Pattern.compile("(?i)[+-]?(inf|infinity|nan)");

  /** The value, or a Go-style error text such as {@code strconv.ParseFloat: parsing "x": ...}. */
  static ParsedFloat parse(String text) {
    if (SPECIAL.matcher(text).matches()) {
      String lower = text.toLowerCase(java.util.Locale.ROOT);
      double value =
          lower.contains("nan")
              ? Double.NaN
              : lower.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
      return new ParsedFloat(value, null);
    }
    // Go allows underscores only with a base prefix, so a plain decimal with '_' is a syntax error.
    if (!DECIMAL.matcher(text).matches() || text.contains("_")) {
      return new ParsedFloat(
          0, "strconv.ParseFloat: parsing " + goQuote(text) + ": invalid syntax");
    }
    double value = Double.parseDouble(text);
    if (Double.isInfinite(value)) {
      return new ParsedFloat(
          value, "strconv.ParseFloat: parsing " + goQuote(text) + ": value out of range");
    }
    return new ParsedFloat(value, null);
  }

  /** Go's {@code %q} for the printable ASCII strings users write; other characters escaped. */
  static String goQuote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\t' -> sb.append("\\t");
        case '\r' -> sb.append("\\r");
        default -> {
          if (c < 0x20 || c == 0x7f) {
            sb.append(String.format("\\x%02x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  record ParsedFloat(double value, String error) {}
}
