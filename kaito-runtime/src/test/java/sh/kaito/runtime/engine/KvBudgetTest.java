package sh.kaito.runtime.engine;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KvBudgetTest {

  @Test
  void aBudgetGivesOutSlotsUpToItsSize() {
    KvBudget b = new KvBudget(10, 4);
    assertThat(b.tryTake(6)).isTrue();
    assertThat(b.tryTake(5)).isFalse();
    assertThat(b.used()).isEqualTo(6);
    b.give(6);
    assertThat(b.tryTake(10)).isTrue();
    assertThat(b.usage()).isEqualTo(1.0);
    assertThat(b.free()).isZero();
  }
}
