package sh.kaito.presets.catalog;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;

/**
 * A memory or disk size in bytes, read from and written as a Kubernetes quantity ({@code 16Gi},
 * {@code 7.12Gi}, {@code 500M}, {@code 1024}). Fractional byte counts round up.
 */
public record ByteSize(long bytes) implements Comparable<ByteSize> {

  public static final ByteSize ZERO = new ByteSize(0);
  public static final long KI = 1024L;
  public static final long GI = KI * KI * KI;

  private static final String[] BINARY = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  private static final String[] DECIMAL = {"", "k", "M", "G", "T", "P", "E"};

  public ByteSize {
    if (bytes < 0) {
      throw new IllegalArgumentException("negative size: " + bytes);
    }
  }

  public static ByteSize ofGi(long gi) {
    return new ByteSize(gi * GI);
  }

  /** Parses a Kubernetes quantity such as {@code 16Gi}, {@code 7.12Gi}, {@code 2G} or {@code 0}. */
  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static ByteSize parse(String quantity) {
    String q = quantity.trim();
    int split = q.length();
    while (split > 0 && Character.isLetter(q.charAt(split - 1))) {
      split--;
    }
    String number = q.substring(0, split);
    String suffix = q.substring(split);
    BigDecimal multiplier = multiplier(suffix, quantity);
    try {
      BigDecimal value = new BigDecimal(number).multiply(multiplier);
      return new ByteSize(value.setScale(0, RoundingMode.CEILING).longValueExact());
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("not a quantity: \"" + quantity + "\"", e);
    }
  }

  private static BigDecimal multiplier(String suffix, String quantity) {
    for (int i = 0; i < BINARY.length; i++) {
      if (BINARY[i].equals(suffix)) {
        return BigDecimal.valueOf(1024L).pow(i);
      }
      if (DECIMAL[i].equals(suffix)) {
        return BigDecimal.valueOf(1000L).pow(i);
      }
    }
    throw new IllegalArgumentException("unknown quantity suffix in \"" + quantity + "\"");
  }

  public ByteSize times(long factor) {
    return new ByteSize(Math.multiplyExact(bytes, factor));
  }

  public ByteSize dividedBy(long divisor) {
    return new ByteSize(bytes / divisor);
  }

  public double gib() {
    return bytes / (double) GI;
  }

  /**
   * The canonical Kubernetes form of a binary-SI quantity, as Go's {@code
   * resource.Quantity.String()} prints it: the largest power of 1024 that divides the value exactly
   * ({@code 16Gi}, {@code 0}, {@code 1536Mi}).
   */
  @JsonValue
  public String toQuantity() {
    if (bytes == 0) {
      return "0";
    }
    long value = bytes;
    int exp = 0;
    while (exp < BINARY.length - 1 && value % 1024 == 0) {
      value /= 1024;
      exp++;
    }
    return value + BINARY[exp];
  }

  /** A short human form for logs and progress lines: {@code 7.12 GiB}. */
  public String human() {
    double v = bytes;
    int exp = 0;
    while (v >= 1024 && exp < BINARY.length - 1) {
      v /= 1024;
      exp++;
    }
    return exp == 0
        ? bytes + " B"
        : String.format(Locale.ROOT, "%.2f %siB", v, BINARY[exp].charAt(0));
  }

  @Override
  public int compareTo(ByteSize other) {
    return Long.compare(bytes, other.bytes);
  }

  @Override
  public String toString() {
    return toQuantity();
  }
}
