package sh.kaito.runtime.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import sh.kaito.runtime.engine.KvBudget;

class ServingLimitsTest {

  static final KvBudget BUDGET = new KvBudget(1000, 256);

  @Test
  void maxModelLenDefaultsToWhatTheBudgetHoldsAtMostTheContext() {
    assertThat(ServedModel.maxModelLen(4096, BUDGET, new ServedModel.Limits(1, 0))).isEqualTo(1000);
    assertThat(ServedModel.maxModelLen(512, BUDGET, new ServedModel.Limits(1, 0))).isEqualTo(512);
    assertThat(ServedModel.maxModelLen(4096, BUDGET, new ServedModel.Limits(1, 300)))
        .isEqualTo(300);
  }

  @Test
  void maxModelLenPastTheContextOrTheBudgetIsRefusedWithTheNumbers() {
    assertThatThrownBy(() -> ServedModel.maxModelLen(512, BUDGET, new ServedModel.Limits(1, 600)))
        .hasMessageContaining("--max-model-len 600")
        .hasMessageContaining("context (512 tokens");
    assertThatThrownBy(() -> ServedModel.maxModelLen(4096, BUDGET, new ServedModel.Limits(1, 2000)))
        .hasMessageContaining("needs 512000 bytes")
        .hasMessageContaining("holds 1000 tokens");
    assertThatThrownBy(() -> new KvBudget(0, 1)).hasMessageContaining("at least one slot");
  }
}
