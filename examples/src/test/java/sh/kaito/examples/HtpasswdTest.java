package sh.kaito.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.mindrot.jbcrypt.BCrypt;

class HtpasswdTest {
  @Test
  void bcryptLineThatChecksOnlyTheRightPassword() {
    String line = Htpasswd.line("kaito", "s3cret");
    assertThat(line).startsWith("kaito:$2a$10$");
    String hash = line.substring("kaito:".length());
    assertThat(BCrypt.checkpw("s3cret", hash)).isTrue();
    assertThat(BCrypt.checkpw("wrong", hash)).isFalse();
    assertThatThrownBy(() -> Htpasswd.line("a:b", "x")).hasMessageContaining("without ':'");
  }
}
