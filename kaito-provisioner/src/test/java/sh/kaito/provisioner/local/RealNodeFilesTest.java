package sh.kaito.provisioner.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.TaintBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RealNodeFilesTest {
  private final RealNodeFiles.Layout layout = new RealNodeFiles.Layout(Path.of("/n/kaito-real-a"));

  @Test
  void containerdHasItsOwnPathsOurPauseImageAndOnlyTheConfiguredRegistries() {
    String toml =
        RealNodeFiles.containerdConfig(
            layout,
            "127.0.0.1:5000/kaito/kaito-pause:1",
            Path.of("/c"),
            Map.of("127.0.0.1:5001", new RealNodeSettings.RegistryAuth("dTpw")));
    assertThat(toml)
        .contains("root = \"/n/kaito-real-a/containerd\"")
        .contains("state = \"/n/kaito-real-a/state\"")
        .contains("address = \"/n/kaito-real-a/containerd.sock\"")
        .contains("sandbox_image = \"127.0.0.1:5000/kaito/kaito-pause:1\"")
        .contains("restrict_oom_score_adj = true")
        .contains("netns_mounts_under_state_dir = true")
        .contains("Root = \"/n/kaito-real-a/runc\"")
        .contains("config_path = \"/n/kaito-real-a/certs.d\"")
        .contains(
            "[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"127.0.0.1:5001\".auth]\n"
                + "      auth = \"dTpw\"\n");
    assertThat(RealNodeFiles.registryHost("127.0.0.1:5000", null))
        .isEqualTo(
            """
            server = "http://127.0.0.1:5000"
            [host."http://127.0.0.1:5000"]
              capabilities = ["pull", "resolve"]
            """);
    assertThat(RealNodeFiles.registryHost("reg:443", Path.of("/ca.crt")))
        .startsWith("server = \"https://reg:443\"")
        .contains("ca = \"/ca.crt\"");
  }

  @Test
  void kubeletListensOnTheGatewayAndRegistersWithTheClaimsTaints() {
    String yaml =
        RealNodeFiles.kubeletConfig(
            layout,
            "10.88.0.1",
            10250,
            10248,
            "kaito-local://kaito-real-a",
            List.of(
                new TaintBuilder()
                    .withKey("sku")
                    .withValue("gpu")
                    .withEffect("NoSchedule")
                    .build()));
    assertThat(yaml)
        .contains("address: 10.88.0.1\n")
        .contains("port: 10250\n")
        .contains("failCgroupV1: false\n")
        .contains("authorization: {mode: Webhook}\n")
        .contains("clientCAFile: /n/kaito-real-a/client-ca.crt")
        .contains("providerID: kaito-local://kaito-real-a\n")
        .contains("registerWithTaints: \n  - {key: \"sku\", value: \"gpu\", effect: NoSchedule}");
    assertThat(RealNodeFiles.kubeletConfig(layout, "10.88.0.1", 1, 2, "p", List.of()))
        .contains("registerWithTaints: []");
  }

  @Test
  void dockerConfigLoginsBecomeContainerdsAndAreNeverPrinted(@TempDir Path dir) throws Exception {
    Path config = dir.resolve("config.json");
    Files.writeString(
        config,
        """
        {"auths": {"127.0.0.1:5000": {"auth": "a2FpdG86c2VjcmV0"},
                   "https://reg.local:443/v2/": {"username": "u", "password": "p"},
                   "empty:1": {}}}
        """);
    Map<String, RealNodeSettings.RegistryAuth> auths = RealNodeSettings.dockerConfigAuths(config);
    assertThat(auths)
        .containsOnlyKeys("127.0.0.1:5000", "reg.local:443")
        .containsEntry("127.0.0.1:5000", new RealNodeSettings.RegistryAuth("a2FpdG86c2VjcmV0"))
        .containsEntry("reg.local:443", new RealNodeSettings.RegistryAuth("dTpw"));
    assertThat(auths.toString()).doesNotContain("a2FpdG86c2VjcmV0");
    Files.writeString(config, "{\"auths\": {}}");
    assertThatThrownBy(() -> RealNodeSettings.dockerConfigAuths(config))
        .hasMessageContaining("has no login");
  }

  @Test
  void cniBridgeDoesNotMasqueradeAndSharesOneAddressStore() {
    String conf =
        RealNodeFiles.cniConflist(
            "kaito0", RealNodeSettings.Subnet.parse("10.88.0.0/24"), Path.of("/n/ipam"));
    assertThat(conf)
        .contains("\"isGateway\": true")
        .contains("\"ipMasq\": false")
        .contains("\"dataDir\": \"/n/ipam\"")
        .contains("\"subnet\": \"10.88.0.0/24\", \"gateway\": \"10.88.0.1\"");
  }

  @Test
  void settingsCheckTheSubnetBridgeAndRegistries() {
    RealNodeSettings.Subnet s = RealNodeSettings.Subnet.parse("10.88.0.0/24");
    assertThat(s.gatewayCidr()).isEqualTo("10.88.0.1/24");
    assertThatThrownBy(() -> RealNodeSettings.Subnet.parse("10.88.0.1/24"))
        .hasMessageContaining("host bits");
    assertThatThrownBy(() -> RealNodeSettings.Subnet.parse("10.88.0/24"))
        .hasMessageContaining("not an IPv4 address");
    RealNodeSettings.Binaries b =
        new RealNodeSettings.Binaries(Path.of("k"), Path.of("p"), Path.of("c"), Path.of("/c"));
    assertThatThrownBy(
            () ->
                new RealNodeSettings(
                    Path.of("/n"),
                    "a-bridge-name-too-long",
                    s,
                    Optional.empty(),
                    Path.of("kc"),
                    "pause",
                    List.of(),
                    Map.of(),
                    Map.of(),
                    b))
        .hasMessageContaining("bridge name");
    assertThatThrownBy(
            () ->
                new RealNodeSettings(
                    Path.of("/n"),
                    "kaito0",
                    s,
                    Optional.empty(),
                    Path.of("kc"),
                    "pause",
                    List.of("http://127.0.0.1:5000"),
                    Map.of(),
                    Map.of(),
                    b))
        .hasMessageContaining("a registry is host:port");
  }
}
