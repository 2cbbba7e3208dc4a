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
    assertThatThrownBy(
            () ->
                ProvisionerMain.provider(
                    ProvisionerOptions.parse(List.of("--provider=azure")),
                    null,
                    java.util.Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--provider=azure needs gpu-provisioner's environment:")
        .hasMessageContaining("ARM_SUBSCRIPTION_ID is not set");
  }

  @Test
  void localRealTakesItsNodeFlagsAndNeedsAPauseImageAndItsBinaries() {
    ProvisionerOptions o =
        ProvisionerOptions.parse(
            List.of(
                "--provider=local-real",
                "--real-node-pause-image=127.0.0.1:5000/kaito/kaito-pause:1",
                "--real-node-insecure-registries=127.0.0.1:5000, 10.88.0.1:5000",
                "--real-node-registry-cas=reg.local:443=/tmp/ca.crt",
                "--real-node-dir=/tmp/rn",
                "--real-node-bridge=kbr1",
                "--real-node-subnet=10.89.0.0/24",
                "--real-node-service-cidr=10.97.0.0/16"));
    ProvisionerOptions.RealNodeOptions r = o.realNodes();
    assertThat(r.plainHttpRegistries()).containsExactly("127.0.0.1:5000", "10.88.0.1:5000");
    assertThat(r.registryCas()).containsEntry("reg.local:443", "/tmp/ca.crt");
    assertThat(r.stateDir()).isEqualTo("/tmp/rn");
    assertThat(r.bridge()).isEqualTo("kbr1");
    assertThat(r.subnet()).isEqualTo("10.89.0.0/24");
    assertThat(r.serviceCidr()).isEqualTo("10.97.0.0/16");
    assertThatThrownBy(() -> ProvisionerOptions.parse(List.of("--provider=local-real")))
        .hasMessageContaining("--real-node-pause-image");
    assertThatThrownBy(
            () -> ProvisionerMain.provider(o, null, java.util.Map.of("KUBECONFIG", "/nonexistent")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("needs a kubeconfig file");
    assertThatThrownBy(
            () ->
                ProvisionerMain.realNodes(
                    ProvisionerOptions.parse(
                        List.of(
                            "--provider=local-real",
                            "--real-node-pause-image=p",
                            "--kubeconfig=pom.xml")),
                    java.util.Map.of("KAITO_KUBELET_BIN", "/nonexistent/kubelet")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("KAITO_KUBELET_BIN")
        .hasMessageContaining("KAITO_KUBE_PROXY_BIN");
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
