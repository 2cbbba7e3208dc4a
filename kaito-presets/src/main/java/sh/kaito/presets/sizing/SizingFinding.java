package sh.kaito.presets.sizing;

/**
 * One failed sizing check, with upstream's wording.
 *
 * @param message the error text, e.g. {@code Insufficient total GPU memory: Instance type ...}
 * @param bypassWarning the text logged instead when {@code kaito.sh/bypass-resource-checks} is set
 */
public record SizingFinding(String message, String bypassWarning) {}
