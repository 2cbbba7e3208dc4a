package sh.kaito.operator;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WorkQueueTest {
  @Test
  void deduplicatesAndNeverHandsOutAKeyTwiceAtOnce() throws Exception {
    try (WorkQueue q = new WorkQueue()) {
      q.add("a");
      q.add("a");
      q.add("b");
      assertThat(q.size()).isEqualTo(2);
      assertThat(q.take()).isEqualTo("a");
      q.add("a"); // while processing: remembered, not queued
      assertThat(q.size()).isEqualTo(1);
      assertThat(q.take()).isEqualTo("b");
      q.done("a");
      assertThat(q.take()).isEqualTo("a");
      q.done("a");
      q.done("b");
      assertThat(q.size()).isZero();
    }
  }
}
