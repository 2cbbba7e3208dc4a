package sh.kaito.api.conditions;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConditionsTest {
  private static final Clock T1 =
      Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);
  private static final Clock T2 =
      Clock.fixed(Instant.parse("2026-01-01T00:05:00Z"), ZoneOffset.UTC);

  @Test
  void transitionTimeMovesOnlyWhenStatusFlips() {
    List<Condition> first =
        Conditions.set(List.of(), "ResourceReady", false, "Pending", "wait", 1L, T1);
    List<Condition> sameStatus =
        Conditions.set(first, "ResourceReady", false, "StillPending", "still", 2L, T2);
    Condition c = Conditions.find(sameStatus, "ResourceReady").orElseThrow();
    assertThat(c.getLastTransitionTime()).isEqualTo("2026-01-01T00:00:00Z");
    assertThat(c.getReason()).isEqualTo("StillPending");
    assertThat(c.getObservedGeneration()).isEqualTo(2L);

    List<Condition> flipped =
        Conditions.set(sameStatus, "ResourceReady", true, "Ready", "ok", 2L, T2);
    assertThat(Conditions.find(flipped, "ResourceReady").orElseThrow().getLastTransitionTime())
        .isEqualTo("2026-01-01T00:05:00Z");
    assertThat(Conditions.isTrue(flipped, "ResourceReady")).isTrue();
  }

  @Test
  void setKeepsOtherConditionsAndTheirOrder() {
    List<Condition> list = Conditions.set(List.of(), "A", true, "r", "m", 1L, T1);
    list = Conditions.set(list, "B", false, "r", "m", 1L, T1);
    list = Conditions.set(list, "A", false, "r2", "m2", 1L, T2);
    assertThat(list).extracting(Condition::getType).containsExactly("A", "B");
    assertThat(Conditions.statusOf(list, "A")).isEqualTo("False");
    assertThat(Conditions.statusOf(list, "Missing")).isEqualTo("Unknown");
  }

  @Test
  void mirrorCopiesTheRootConditionAndRemovesItWhenTheSourceIsGone() {
    List<Condition> list =
        Conditions.set(List.of(), "WorkspaceSucceeded", true, "workspaceSucceeded", "ok", 3L, T1);
    list = Conditions.mirror(list, "WorkspaceSucceeded", "WorkspaceReady", T1);
    Condition ready = Conditions.find(list, "WorkspaceReady").orElseThrow();
    assertThat(ready.getStatus()).isEqualTo("True");
    assertThat(ready.getReason()).isEqualTo("workspaceSucceeded");
    assertThat(ready.getObservedGeneration()).isEqualTo(3L);

    list = Conditions.remove(list, "WorkspaceSucceeded");
    assertThat(Conditions.mirror(list, "WorkspaceSucceeded", "WorkspaceReady", T1)).isEmpty();
  }

  @Test
  void sameMeaningIgnoresTimesAndOrder() {
    List<Condition> a = Conditions.set(List.of(), "A", true, "r", "m", 1L, T1);
    a = Conditions.set(a, "B", true, "r", "m", 1L, T1);
    List<Condition> b = Conditions.set(List.of(), "B", true, "r", "m", 1L, T2);
    b = Conditions.set(b, "A", true, "r", "m", 1L, T2);
    assertThat(Conditions.sameMeaning(a, b)).isTrue();
    assertThat(Conditions.sameMeaning(a, Conditions.set(b, "A", true, "r", "changed", 1L, T2)))
        .isFalse();
  }
}
