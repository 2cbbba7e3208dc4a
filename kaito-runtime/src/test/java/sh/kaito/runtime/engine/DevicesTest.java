package sh.kaito.runtime.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import org.junit.jupiter.api.Test;

class DevicesTest {

  @Test
  void parsesTheDeviceChosenAtStart() {
    assertThat(Devices.parse(null)).isEqualTo(Device.cpu());
    assertThat(Devices.parse("CPU")).isEqualTo(Device.cpu());
    assertThat(Devices.parse("cuda")).isEqualTo(Device.gpu());
    assertThat(Devices.parse("cuda:1")).isEqualTo(Device.gpu(1));
    assertThatThrownBy(() -> Devices.parse("tpu")).hasMessageContaining("unknown device 'tpu'");
    assertThatThrownBy(() -> Devices.parse("cuda:x")).hasMessageContaining("cuda:<index>");
  }
}
