package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ServeCommandTest {

  @Test
  void kvCacheMemoryTakesSizesWithUnits() {
    assertThat(ServeCommand.bytes("4GiB")).isEqualTo(4L << 30);
    assertThat(ServeCommand.bytes("512mib")).isEqualTo(512L << 20);
    assertThat(ServeCommand.bytes("1.5G")).isEqualTo(3L << 29);
    assertThat(ServeCommand.bytes("65536")).isEqualTo(65536);
    for (String bad : new String[] {"", "lots", "-1GiB", "0", "4 parsecs"}) {
      assertThatThrownBy(() -> ServeCommand.bytes(bad))
          .as(bad)
          .hasMessageContaining("--kv-cache-memory");
    }
  }
}
