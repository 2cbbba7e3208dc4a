package sh.kaito.presets.sizing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import sh.kaito.presets.catalog.ByteSize;
import sh.kaito.presets.catalog.GpuRequirements;
import sh.kaito.presets.catalog.PresetCatalog;
import sh.kaito.presets.sku.GpuSku;
import sh.kaito.presets.sku.SkuTable;

class ClassicSizingTest {

  private static final GpuSku NC6S_V3 = SkuTable.azure().find("Standard_NC6s_v3").orElseThrow();

  private static GpuRequirements inference(String preset) {
    return PresetCatalog.builtIn().find(preset).orElseThrow().inference().gpu();
  }

  @Test
  void phi3MiniFitsAV100() {
    assertThat(
            ClassicSizing.check(
                "phi-3-mini-128k-instruct", inference("phi-3-mini-128k-instruct"), NC6S_V3, 1))
        .isEmpty();
  }

  @Test
  void phi3MediumDoesNotFitAV100() {
    List<SizingFinding> f =
        ClassicSizing.check(
            "phi-3-medium-128k-instruct", inference("phi-3-medium-128k-instruct"), NC6S_V3, 1);
    assertThat(f)
        .extracting(SizingFinding::message)
        .containsExactly(
            "Insufficient total GPU memory: Instance type Standard_NC6s_v3 has a total of 16Gi, but"
                + " preset phi-3-medium-128k-instruct requires at least 28Gi");
    // two nodes have 32Gi together
    assertThat(
            ClassicSizing.check(
                "phi-3-medium-128k-instruct", inference("phi-3-medium-128k-instruct"), NC6S_V3, 2))
        .isEmpty();
  }

  @Test
  void allThreeChecksHaveTheirOwnMessage() {
    GpuRequirements big = new GpuRequirements(2, ByteSize.ofGi(24), ByteSize.ofGi(48));
    assertThat(ClassicSizing.check("p", big, NC6S_V3, 1))
        .extracting(SizingFinding::message)
        .containsExactly(
            "Insufficient number of GPUs: Instance type Standard_NC6s_v3 provides 1, but preset p"
                + " requires at least 2",
            "Insufficient per GPU memory: Instance type Standard_NC6s_v3 provides 16Gi per GPU, but"
                + " preset p requires at least 24Gi per GPU",
            "Insufficient total GPU memory: Instance type Standard_NC6s_v3 has a total of 16Gi, but"
                + " preset p requires at least 48Gi");
  }
}
