package sh.kaito.presets.image;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProgressTest {
  @Test
  void printsPercentRateAndEtaAtMostOncePerInterval() {
    long[] now = {0};
    List<String> lines = new ArrayList<>();
    Progress p =
        new Progress("push x", 100_000_000L, lines::add, Duration.ofSeconds(2), () -> now[0]);
    now[0] = 1_000_000_000L; // 1 s: too early for a line
    p.advance(10_000_000L);
    now[0] = 2_000_000_000L; // 2 s, 25 MB done
    p.advance(15_000_000L);
    now[0] = 4_000_000_000L;
    p.finish();
    assertThat(lines)
        .containsExactly(
            "push x 25% 25.0/100.0 MB 12.5 MB/s ETA 6s",
            "push x 100% 100.0 MB in 4.0s (25.0 MB/s)");
  }

  @Test
  void formatsLongEtas() {
    assertThat(Progress.formatSeconds(59)).isEqualTo("59s");
    assertThat(Progress.formatSeconds(125)).isEqualTo("2m05s");
    assertThat(Progress.formatSeconds(7260)).isEqualTo("2h01m");
  }
}
