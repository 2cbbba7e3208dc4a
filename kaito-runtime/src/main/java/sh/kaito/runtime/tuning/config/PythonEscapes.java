package sh.kaito.runtime.tuning.config;

/**
 * Decodes backslash escapes as Python's {@code codecs.decode(s, "unicode_escape")} does for ASCII
 * text ({@code \n}, {@code \t}, {@code \\}, {@code \'}, {@code \"}, {@code \xhh}, {@code \\uXXXX},
 * {@code \UXXXXXXXX}, octal); an unknown escape is kept as it is, like Python.
 */
final class PythonEscapes {

  private PythonEscapes() {}

  static String decode(String s) {
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '\\' || i + 1 >= s.length()) {
        out.append(c);
        continue;
      }
      char e = s.charAt(++i);
      switch (e) {
        case 'n' -> out.append('\n');
        case 't' -> out.append('\t');
        case 'r' -> out.append('\r');
        case 'b' -> out.append('\b');
        case 'f' -> out.append('\f');
        case 'v' -> out.append('\u000b');
        case 'a' -> out.append('\u0007');
        case '\\', '\'', '"' -> out.append(e);
        case '\n' -> {} // a backslash-newline is a line continuation
        case 'x', 'u', 'U' -> {
          int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          String hex = s.substring(i + 1, Math.min(s.length(), i + 1 + digits));
          try {
            if (hex.length() != digits) {
              throw new NumberFormatException(hex);
            }
            out.appendCodePoint(Integer.parseUnsignedInt(hex, 16));
          } catch (IllegalArgumentException ex) {
            throw new TrainingConfigException("invalid \\" + e + hex + " escape in chat template");
          }
          i += digits;
        }
        default -> {
          if (e >= '0' && e <= '7') {
            int end = i;
            while (end < s.length()
                && end < i + 3
                && s.charAt(end) >= '0'
                && s.charAt(end) <= '7') {
              end++;
            }
            out.append((char) Integer.parseInt(s.substring(i, end), 8));
            i = end - 1;
          } else {
            out.append('\\').append(e);
          }
        }
      }
    }
    return out.toString();
  }
}
