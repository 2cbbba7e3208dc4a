package sh.kaito.api.validation;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The outcome of validating a Workspace: errors (merged and sorted exactly as upstream's webhook
 * renders them) and warnings.
 *
 * @param errors errors with the same message and details merged into one with all their paths
 *     (sorted), the list sorted by message
 * @param warnings messages for a request that is admitted anyway (e.g. bypassed GPU checks)
 */
public record ValidationResult(List<FieldError> errors, List<String> warnings) {

  public ValidationResult {
    errors = List.copyOf(errors);
    warnings = List.copyOf(warnings);
  }

  static ValidationResult of(List<FieldError> raw, List<String> warnings) {
    Map<String, FieldError> merged = new LinkedHashMap<>();
    for (FieldError e : raw) {
      String key = e.message() + "-" + e.details();
      FieldError seen = merged.get(key);
      if (seen == null) {
        merged.put(key, e);
      } else {
        List<String> paths = new ArrayList<>(seen.paths());
        for (String p : e.paths()) {
          if (!paths.contains(p)) {
            paths.add(p);
          }
        }
        merged.put(key, new FieldError(e.message(), paths, e.details()));
      }
    }
    List<FieldError> sorted =
        merged.values().stream()
            .map(
                e -> new FieldError(e.message(), e.paths().stream().sorted().toList(), e.details()))
            .sorted(Comparator.comparing(FieldError::message).thenComparing(FieldError::details))
            .collect(Collectors.toList());
    return new ValidationResult(sorted, warnings);
  }

  /** True when the workspace may be admitted. */
  public boolean isValid() {
    return errors.isEmpty();
  }

  /** All errors as upstream's webhook prints them, one per line; empty when valid. */
  public String message() {
    return errors.stream().map(FieldError::render).collect(Collectors.joining("\n"));
  }

  @Override
  public String toString() {
    return isValid() ? "valid" : message();
  }
}
