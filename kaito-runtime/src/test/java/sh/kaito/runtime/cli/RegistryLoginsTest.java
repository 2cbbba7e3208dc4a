package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.presets.image.DockerConfig;
import sh.kaito.presets.image.RegistryCredential;

class RegistryLoginsTest {

  private static final String HOST = "myregistry.azurecr.io";

  @TempDir Path tmp;

  private void write(String name, String host, String user, String password) throws Exception {
    Files.writeString(
        tmp.resolve(name), DockerConfig.toJson(host, new RegistryCredential(user, password)));
  }

  @Test
  void everyConfigWithAnEntryForTheRegistryInNameOrder() throws Exception {
    write("b-secret.json", HOST, "bob", "pw-b");
    write("a-secret.json", HOST, "alice", "pw-a");
    write("c-other.json", "ghcr.io", "carol", "pw-c");
    write("d-duplicate.json", HOST, "alice", "pw-a");
    // What a projected volume also holds.
    Files.createDirectories(tmp.resolve("..2026_11_29_22_00_00.123"));
    Files.writeString(tmp.resolve("..data.json"), "not a config");

    List<String> warnings = new ArrayList<>();
    RegistryLogins logins = RegistryLogins.fromDirectory(tmp, HOST, warnings::add);

    assertThat(logins.logins())
        .extracting(l -> l.credential().orElseThrow().username(), RegistryLogins.Login::source)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("alice", tmp.resolve("a-secret.json").toString()),
            org.assertj.core.groups.Tuple.tuple("bob", tmp.resolve("b-secret.json").toString()));
    assertThat(warnings).isEmpty();
  }

  @Test
  void noEntryForTheRegistryMeansAnonymous() throws Exception {
    write("other.json", "ghcr.io", "carol", "pw-c");

    RegistryLogins logins = RegistryLogins.fromDirectory(tmp, HOST, w -> {});

    assertThat(logins.logins())
        .containsExactly(new RegistryLogins.Login(Optional.empty(), tmp.toString()));
  }

  @Test
  void aBrokenConfigIsSkippedWithAWarning() throws Exception {
    Files.writeString(tmp.resolve("broken.json"), "[1, 2]");
    write("good.json", HOST, "alice", "pw-a");
    List<String> warnings = new ArrayList<>();

    RegistryLogins logins = RegistryLogins.fromDirectory(tmp, HOST, warnings::add);

    assertThat(logins.logins()).hasSize(1);
    assertThat(warnings)
        .containsExactly(
            "warning: skipping "
                + tmp.resolve("broken.json")
                + ": docker config "
                + tmp.resolve("broken.json")
                + " is not a JSON object");
  }

  @Test
  void aMissingDirectoryIsAFailure() {
    assertThatThrownBy(() -> RegistryLogins.fromDirectory(tmp.resolve("nope"), HOST, w -> {}))
        .isInstanceOf(CommandFailure.class)
        .hasMessage("docker config directory " + tmp.resolve("nope") + " does not exist");
  }

  @Test
  void plainHttpOnlyForRegistriesListedByHostAndPort() {
    java.util.Map<String, String> env =
        java.util.Map.of(
            RegistryLogins.INSECURE_REGISTRIES_ENV, " 10.88.0.1:5000 ,registry.local:8443");
    List<String> log = new ArrayList<>();
    assertThat(RegistryLogins.plainHttp("10.88.0.1:5000", env, log::add)).isTrue();
    assertThat(RegistryLogins.plainHttp("REGISTRY.local:8443", env, log::add)).isTrue();
    // Another port of a listed host, or a host listed without its port, stays HTTPS.
    assertThat(RegistryLogins.plainHttp("10.88.0.1:5001", env, log::add)).isFalse();
    assertThat(RegistryLogins.plainHttp("10.88.0.1", env, log::add)).isFalse();
    assertThat(RegistryLogins.plainHttp(HOST, java.util.Map.of(), log::add)).isFalse();
    assertThat(log)
        .containsExactly(
            "registry 10.88.0.1:5000: plain HTTP (listed in KAITO_INSECURE_REGISTRIES)",
            "registry REGISTRY.local:8443: plain HTTP (listed in KAITO_INSECURE_REGISTRIES)");
  }
}
