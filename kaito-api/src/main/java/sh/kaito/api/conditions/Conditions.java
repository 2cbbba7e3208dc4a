package sh.kaito.api.conditions;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The one place conditions are read and written.
 *
 * <p>Setting a condition stamps {@code observedGeneration}, and moves {@code lastTransitionTime}
 * only when the status flips, as Kubernetes API conventions ask. Lists are copied, never changed in
 * place, so a status can be compared with the one read from the server to decide whether to write.
 */
public final class Conditions {
  private Conditions() {}

  /** The condition of this type, if present. */
  public static Optional<Condition> find(List<Condition> conditions, String type) {
    if (conditions == null) {
      return Optional.empty();
    }
    return conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
  }

  /** True when the condition of this type is present with status {@code "True"}. */
  public static boolean isTrue(List<Condition> conditions, String type) {
    return find(conditions, type).map(c -> "True".equals(c.getStatus())).orElse(false);
  }

  /** The status of this condition type: {@code "True"}, {@code "False"}, or {@code "Unknown"}. */
  public static String statusOf(List<Condition> conditions, String type) {
    return find(conditions, type).map(Condition::getStatus).orElse("Unknown");
  }

  /**
   * A copy of {@code conditions} with the condition of {@code type} set.
   *
   * @param clock time source for {@code lastTransitionTime} (tests pass a fixed one)
   */
  public static List<Condition> set(
      List<Condition> conditions,
      String type,
      boolean status,
      String reason,
      String message,
      Long observedGeneration,
      Clock clock) {
    return set(
        conditions, type, status ? "True" : "False", reason, message, observedGeneration, clock);
  }

  /** As {@link #set(List, String, boolean, String, String, Long, Clock)}, any status string. */
  public static List<Condition> set(
      List<Condition> conditions,
      String type,
      String status,
      String reason,
      String message,
      Long observedGeneration,
      Clock clock) {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(status, "status");
    List<Condition> out = new ArrayList<>();
    Condition previous = null;
    if (conditions != null) {
      for (Condition c : conditions) {
        if (type.equals(c.getType())) {
          previous = c;
        } else {
          out.add(c);
        }
      }
    }
    String transitionTime =
        previous != null && status.equals(previous.getStatus())
            ? previous.getLastTransitionTime()
            : DateTimeFormatter.ISO_INSTANT.format(
                Instant.now(clock).truncatedTo(ChronoUnit.SECONDS));
    Condition next =
        new ConditionBuilder()
            .withType(type)
            .withStatus(status)
            // The API server requires both (metav1.Condition); never send null.
            .withReason(reason == null || reason.isEmpty() ? "Unknown" : reason)
            .withMessage(message == null ? "" : message)
            .withObservedGeneration(observedGeneration)
            .withLastTransitionTime(transitionTime)
            .build();
    // Keep the written order stable: a changed condition stays where it was.
    int index = previous == null ? out.size() : conditions.indexOf(previous);
    out.add(Math.min(index, out.size()), next);
    return out;
  }

  /**
   * A copy where {@code targetType} says what {@code sourceType} says (status, reason, message), or
   * is absent when the source is. Kaito keeps {@code WorkspaceReady} equal to {@code
   * WorkspaceSucceeded} this way.
   */
  public static List<Condition> mirror(
      List<Condition> conditions, String sourceType, String targetType, Clock clock) {
    Optional<Condition> source = find(conditions, sourceType);
    if (source.isEmpty()) {
      return remove(conditions, targetType);
    }
    Condition s = source.get();
    return set(
        conditions,
        targetType,
        s.getStatus(),
        s.getReason(),
        s.getMessage(),
        s.getObservedGeneration(),
        clock);
  }

  /** A copy without the condition of this type. */
  public static List<Condition> remove(List<Condition> conditions, String type) {
    List<Condition> out = new ArrayList<>();
    if (conditions != null) {
      for (Condition c : conditions) {
        if (!type.equals(c.getType())) {
          out.add(c);
        }
      }
    }
    return out;
  }

  /**
   * True when two lists say the same thing, ignoring {@code lastTransitionTime} and order: what the
   * controller uses to skip a status write that would change nothing a user can see.
   */
  public static boolean sameMeaning(List<Condition> a, List<Condition> b) {
    List<Condition> left = a == null ? List.of() : a;
    List<Condition> right = b == null ? List.of() : b;
    if (left.size() != right.size()) {
      return false;
    }
    for (Condition l : left) {
      Optional<Condition> r = find(right, l.getType());
      if (r.isEmpty()
          || !Objects.equals(l.getStatus(), r.get().getStatus())
          || !Objects.equals(l.getReason(), r.get().getReason())
          || !Objects.equals(l.getMessage(), r.get().getMessage())
          || !Objects.equals(l.getObservedGeneration(), r.get().getObservedGeneration())) {
        return false;
      }
    }
    return true;
  }
}
