package sh.kaito.presets.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ByteSizeTest {
  @Test
  void parsesKubernetesQuantities() {
    assertThat(ByteSize.parse("16Gi").bytes()).isEqualTo(16L << 30);
    assertThat(ByteSize.parse("0Gi").bytes()).isZero();
    assertThat(ByteSize.parse("2G").bytes()).isEqualTo(2_000_000_000L);
    assertThat(ByteSize.parse("1.5Ki").bytes()).isEqualTo(1536);
    assertThat(ByteSize.parse("7.12Gi").bytes()).isEqualTo(7645041786L + 1); // rounds up
    assertThatThrownBy(() -> ByteSize.parse("12Qi")).hasMessageContaining("suffix");
    assertThatThrownBy(() -> ByteSize.parse("Gi")).hasMessageContaining("not a quantity");
  }

  @Test
  void printsLikeGoQuantityString() {
    assertThat(ByteSize.ofGi(16).toQuantity()).isEqualTo("16Gi");
    assertThat(ByteSize.ZERO.toQuantity()).isEqualTo("0");
    assertThat(ByteSize.ofGi(2048).toQuantity()).isEqualTo("2Ti");
    assertThat(new ByteSize(1536L << 20).toQuantity()).isEqualTo("1536Mi");
    assertThat(new ByteSize(1000).toQuantity()).isEqualTo("1000");
  }
}
