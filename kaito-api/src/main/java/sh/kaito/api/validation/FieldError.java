package sh.kaito.api.validation;

import java.util.List;

/**
 * One validation failure: a message and the field paths it is about, rendered the way upstream
 * Kaito's webhook (knative {@code apis.FieldError}) renders it: {@code "<message>: <path>,
 * <path>"}, with details on a second line when there are any.
 *
 * @param message what is wrong, e.g. {@code "invalid value: Unsupported inference preset name x"}
 * @param paths dotted field paths such as {@code inference.presetName}; may be empty
 * @param details extra explanation, or the empty string
 */
public record FieldError(String message, List<String> paths, String details) {

  public FieldError {
    paths = List.copyOf(paths);
    details = details == null ? "" : details;
  }

  /** Upstream's rendering of this error. */
  public String render() {
    String line = message + ": " + String.join(", ", paths);
    return details.isEmpty() ? line : line + "\n" + details;
  }

  @Override
  public String toString() {
    return render();
  }
}
