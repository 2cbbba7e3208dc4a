package sh.kaito.presets.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DockerConfigTest {
  @Test
  void readsAuthAndUsernamePasswordEntries(@TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("config.json");
    Files.writeString(
        file,
        """
        {"auths": {
          "https://myacr.azurecr.io/v1/": {"auth": "dXNlcjpwYTpzcw=="},
          "127.0.0.1:5000": {"username": "bob", "password": "pw"},
          "https://index.docker.io/v1/": {"auth": "aHViOmh1YnB3"}
        }}
        """);
    DockerConfig config = DockerConfig.read(file);
    assertThat(config.credentialFor("myacr.azurecr.io"))
        .contains(new RegistryCredential("user", "pa:ss"));
    assertThat(config.credentialFor("127.0.0.1:5000"))
        .contains(new RegistryCredential("bob", "pw"));
    assertThat(config.credentialFor("registry-1.docker.io"))
        .contains(new RegistryCredential("hub", "hubpw"));
    assertThat(config.credentialFor("127.0.0.1:5001")).isEmpty();
    assertThat(new RegistryCredential("a", "secret").toString()).doesNotContain("secret");
  }

  @Test
  void roundTripsAndRejectsGarbage(@TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("config.json");
    Files.writeString(file, DockerConfig.toJson("r.example:443", new RegistryCredential("u", "p")));
    assertThat(DockerConfig.read(file).credentialFor("r.example:443"))
        .contains(new RegistryCredential("u", "p"));
    Files.writeString(file, "[1,2]");
    assertThatThrownBy(() -> DockerConfig.read(file))
        .isInstanceOf(ImageException.class)
        .hasMessageContaining(file.toString());
  }
}
