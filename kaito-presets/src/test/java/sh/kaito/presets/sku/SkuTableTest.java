package sh.kaito.presets.sku;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SkuTableTest {
  private final SkuTable azure = SkuTable.azure();

  @Test
  void knowsTheClassicExamples() {
    GpuSku v100 = azure.find("Standard_NC6s_v3").orElseThrow();
    assertThat(v100.gpuCount()).isEqualTo(1);
    assertThat(v100.gpuModel()).isEqualTo("NVIDIA V100");
    assertThat(v100.gpuMemory().toQuantity()).isEqualTo("16Gi");

    GpuSku a100 = azure.find("Standard_NC24ads_A100_v4").orElseThrow();
    assertThat(a100.gpuCount()).isEqualTo(1);
    assertThat(a100.gpuMemory().toQuantity()).isEqualTo("80Gi");
    assertThat(a100.nvme()).isTrue();

    GpuSku nd = azure.find("Standard_ND96asr_A100_v4").orElseThrow();
    assertThat(nd.perGpuMemory().toQuantity()).isEqualTo("40Gi");
  }

  @Test
  void coversTheFamiliesAndIsExact() {
    assertThat(azure.names())
        .anyMatch(n -> n.startsWith("Standard_NC"))
        .anyMatch(n -> n.startsWith("Standard_ND"))
        .anyMatch(n -> n.startsWith("Standard_NV"))
        .anyMatch(n -> n.contains("ads_"));
    assertThat(azure.find("standard_nc6s_v3")).isEmpty();
    assertThat(azure.find("Standard_D4s_v5")).isEmpty();
    assertThat(azure.cloud()).isEqualTo("azure");
  }
}
