package sh.kaito.provisioner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProvisionerOptionsTest {

  @Test
  void defaultsAreTheFakeProviderAndNoHealthServer() {
    ProvisionerOptions o = ProvisionerOptions.parse(List.of());
    assertThat(o.provider()).isEqualTo("fake");
    assertThat(o.kubeconfig()).isNull();
    assertThat(o.healthPort()).isZero();
    assertThat(o.metricsPort()).isZero();
    assertThat(o.leaderElect()).isFalse();
    assertThat(o.controller().gcInterval()).isEqualTo(Duration.ofMinutes(2));
  }

  @Test
  void flagsAreRead() {
    ProvisionerOptions o =
        ProvisionerOptions.parse(
            List.of(
                "--provider=fake",
                "--kubeconfig=/tmp/kc",
                "--health-port=8082",
                "--workers=4",
                "--gc-interval-seconds=10",
                "--registration-ttl-seconds=1800",
                "--metrics-port=8083",
                "--leader-elect=true",
                "--leader-election-namespace=gpu-provisioner"));
    assertThat(o.kubeconfig()).isEqualTo("/tmp/kc");
    assertThat(o.healthPort()).isEqualTo(8082);
    assertThat(o.controller().workers()).isEqualTo(4);
    assertThat(o.controller().gcInterval()).isEqualTo(Duration.ofSeconds(10));
    assertThat(o.metricsPort()).isEqualTo(8083);
    assertThat(o.leaderElect()).isTrue();
    assertThat(o.leaderElectionNamespace()).isEqualTo("gpu-provisioner");
    assertThat(o.controller().timings().registrationTtl()).isEqualTo(Duration.ofMinutes(30));
  }

  @Test
  void azureIsAProviderThatNeedsGpuProvisionersEnvironment() {
    assertThat(ProvisionerOptions.parse(List.of("--provider=azure")).provider()).isEqualTo("azure");
    assertThatThrownBy(() -> ProvisionerMain.provider("azure", null, java.util.Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--provider=azure needs gpu-provisioner's environment:")
        .hasMessageContaining("ARM_SUBSCRIPTION_ID is not set");
  }

  @Test
  void badFlagsSayWhatIsWrong() {
    assertThatThrownBy(() -> ProvisionerOptions.parse(List.of("--provider=aws")))
        .hasMessageContaining("unknown provider aws");
    assertThatThrownBy(() -> ProvisionerOptions.parse(List.of("--workers=lots")))
        .hasMessageContaining("--workers must be a number");
    assertThatThrownBy(() -> ProvisionerOptions.parse(List.of("--health-port=70000")))
        .hasMessageContaining("between 0 and 65535");
    assertThatThrownBy(() -> ProvisionerOptions.parse(List.of("--leader-elect=yes")))
        .hasMessageContaining("--leader-elect must be true or false, got yes");
    assertThatThrownBy(() -> ProvisionerOptions.parse(List.of("--colour=blue")))
        .hasMessageContaining("unknown option --colour");
    assertThatThrownBy(() -> ProvisionerOptions.parse(List.of("fake")))
        .hasMessageContaining("expected --key=value");
  }
}
