package sh.kaito.api.validation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Collects validation errors and warnings while rules run.
 *
 * <p>Rules write paths relative to the part they check and get a scoped view with {@link
 * #via(String...)}, the way upstream chains knative's {@code ViaField}: an error at {@code Method}
 * reported through {@code via("tuning")} ends up at {@code tuning.Method}. Index segments such as
 * {@code [2]} join the segment before them ({@code adapters[2]}).
 *
 * <p>The constructors mirror knative's helpers so messages match upstream byte for byte: {@link
 * #invalidValue} is {@code ErrInvalidValue}, {@link #missingField} is {@code ErrMissingField},
 * {@link #error} is {@code ErrGeneric}.
 */
public final class ValidationReport {
  private final List<FieldError> errors;
  private final List<String> warnings;
  private final List<String> prefix;

  public ValidationReport() {
    this(new ArrayList<>(), new ArrayList<>(), List.of());
  }

  private ValidationReport(List<FieldError> errors, List<String> warnings, List<String> prefix) {
    this.errors = errors;
    this.warnings = warnings;
    this.prefix = prefix;
  }

  /** A view of this report whose paths are prefixed by {@code fields}; it writes to this report. */
  public ValidationReport via(String... fields) {
    List<String> longer = new ArrayList<>(prefix);
    longer.addAll(Arrays.asList(fields));
    return new ValidationReport(errors, warnings, List.copyOf(longer));
  }

  /**
   * A view for element {@code index} of the list at {@code field}: paths become {@code field[i]}.
   */
  public ValidationReport viaIndex(String field, int index) {
    return via(field, "[" + index + "]");
  }

  /** An error with a free-form message (knative {@code ErrGeneric}). */
  public void error(String message, String... paths) {
    add(message, List.of(paths), "");
  }

  /** {@code "invalid value: <value>"} at one path (knative {@code ErrInvalidValue}). */
  public void invalidValue(Object value, String path) {
    add("invalid value: " + value, List.of(path), "");
  }

  /**
   * {@code "missing field(s)"} at these paths (knative {@code ErrMissingField}). Upstream often
   * passes a sentence as a path; that sentence then appears after the colon.
   */
  public void missingField(String... paths) {
    add("missing field(s)", List.of(paths), "");
  }

  /** A warning: the request is admitted, and the user is told. */
  public void warning(String message) {
    warnings.add(message);
  }

  /** True when no error has been reported so far, through any view. */
  public boolean isEmpty() {
    return errors.isEmpty();
  }

  /** Everything reported so far, merged and sorted as upstream renders it. */
  public ValidationResult result() {
    return ValidationResult.of(errors, warnings);
  }

  private void add(String message, List<String> paths, String details) {
    List<String> full = new ArrayList<>(paths.size());
    for (String path : paths) {
      List<String> parts = new ArrayList<>(prefix);
      parts.add(path);
      full.add(flatten(parts));
    }
    errors.add(new FieldError(message, full, details));
  }

  /**
   * Joins path parts with dots, dropping empty parts and gluing index parts ({@code [0]}) to the
   * part before them; knative's {@code flatten}.
   */
  static String flatten(List<String> parts) {
    List<String> out = new ArrayList<>();
    for (String part : parts) {
      for (String piece : part.split("\\.", -1)) {
        if (piece.isEmpty()) {
          continue;
        }
        if (!out.isEmpty() && piece.startsWith("[") && piece.endsWith("]")) {
          out.set(out.size() - 1, out.get(out.size() - 1) + piece);
        } else {
          out.add(piece);
        }
      }
    }
    return String.join(".", out);
  }
}
