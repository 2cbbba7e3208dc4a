package sh.kaito.presets.sizing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import sh.kaito.presets.catalog.ModelPreset;
import sh.kaito.presets.catalog.PresetCatalog;
import sh.kaito.presets.sku.GpuSku;
import sh.kaito.presets.sku.SkuTable;

/** Expected numbers worked by hand from the formula in kaito-upstream-contract.md §2.4. */
class NodeEstimatorTest {

  private static ModelPreset preset(String name) {
    return PresetCatalog.builtIn().find(name).orElseThrow();
  }

  private static GpuSku sku(String name) {
    return SkuTable.azure().find(name).orElseThrow();
  }

  @Test
  void smallModelFitsOneNode() throws Exception {
    // 7.12Gi x 1.02 = 7.26Gi; (16 x 0.84 - 2.3 - 0.75) / 1.05 = 9.90Gi per GPU -> 1 GPU
    NodeEstimate e =
        NodeEstimator.estimate(preset("phi-3-mini-4k-instruct"), sku("Standard_NC6s_v3"), 0);
    assertThat(e.nodes()).isEqualTo(1);
    assertThat(e.maxModelLen()).isEqualTo(2048);
  }

  @Test
  void largeModelSpreadsOverNodes() throws Exception {
    // 26Gi x 1.02 = 26.52Gi; (13.44 - 2.3 - 0.39) / 1.05 = 10.24Gi per GPU -> 3 GPUs
    assertThat(
            NodeEstimator.estimate(preset("phi-3-medium-128k-instruct"), sku("Standard_NC6s_v3"), 0)
                .nodes())
        .isEqualTo(3);
    // two GPUs per node: the KV cache splits, (13.44 - 2.3 - 0.195) / 1.05 = 10.42 -> 3 GPUs -> 2
    NodeEstimate two =
        NodeEstimator.estimate(preset("phi-3-medium-128k-instruct"), sku("Standard_NC12s_v3"), 0);
    assertThat(two.minGpus()).isEqualTo(3);
    assertThat(two.nodes()).isEqualTo(2);
    assertThat(
            NodeEstimator.estimate(
                    preset("phi-3-medium-128k-instruct"), sku("Standard_NC24ads_A100_v4"), 0)
                .nodes())
        .isEqualTo(1);
  }

  @Test
  void modelWithoutDistributedInferenceMustFitOneNode() {
    assertThatThrownBy(() -> NodeEstimator.estimate(preset("mistral-7b"), sku("Standard_NV6"), 0))
        .hasMessage(
            "models with disabled support distributed inference cannot be distributed across more"
                + " than 1 GPU node, please use a node with larger GPU memory, calculated nodes: 4");
  }

  @Test
  void contextTooLargeForTheGpu() {
    // 131072 tokens x 393216 bytes = 48GiB of KV cache on one 16Gi GPU
    assertThatThrownBy(
            () ->
                NodeEstimator.estimate(
                    preset("phi-3-mini-128k-instruct"), sku("Standard_NC6s_v3"), 131072))
        .hasMessage(
            "GPU memory 17179869184 bytes is too small, needs at least 50.3 GB overhead (base:"
                + " 2.3GB + KV Cache: 48.0 GB)");
  }
}
