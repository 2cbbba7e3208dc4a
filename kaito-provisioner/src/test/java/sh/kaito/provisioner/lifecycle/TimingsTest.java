package sh.kaito.provisioner.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class TimingsTest {
  @Test
  void backoffDoublesPerConsecutiveErrorUpToTheCap() {
    Timings t = Timings.defaults();
    assertThat(t.backoff(1)).isEqualTo(Duration.ofSeconds(1));
    assertThat(t.backoff(2)).isEqualTo(Duration.ofSeconds(2));
    assertThat(t.backoff(5)).isEqualTo(Duration.ofSeconds(16));
    assertThat(t.backoff(9)).isEqualTo(Duration.ofSeconds(256));
    assertThat(t.backoff(10)).isEqualTo(Duration.ofMinutes(5)); // 512 s, capped
    assertThat(t.backoff(1000)).isEqualTo(Duration.ofMinutes(5));
  }

  @Test
  void karpentersRegistrationTtlIsTheDefault() {
    assertThat(Timings.defaults().registrationTtl()).isEqualTo(Duration.ofMinutes(15));
  }
}
