package sh.kaito.controller.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.validation.ValidationOptions;
import sh.kaito.controller.TestWorkspaces;
import sh.kaito.presets.sizing.CatalogPresetChecks;

class WorkspaceAdmissionTest {

  static Node gpuNode(String name, String product, String count, String memory) {
    return new NodeBuilder()
        .withNewMetadata()
        .withName(name)
        .withLabels(
            Map.of(
                "apps",
                "phi-3",
                "nvidia.com/gpu.product",
                product,
                "nvidia.com/gpu.count",
                count,
                "nvidia.com/gpu.memory",
                memory))
        .endMetadata()
        .build();
  }

  static Workspace byo() {
    return TestWorkspaces.phi3Inference(
        w -> {
          w.setResource(w.getResource().withInstanceType(null));
          return w;
        });
  }

  @Test
  void bringYourOwnNodesMustExistWithUniformGpuLabels() {
    var none =
        new WorkspaceAdmission(
            ValidationOptions.bringYourOwnNodes(), CatalogPresetChecks.azure(), l -> List.of());
    var d = none.review("CREATE", byo(), null);
    assertThat(d.allowed()).isFalse();
    assertThat(d.message()).isEqualTo("No nodes found matching the specified label selector");

    var mixed =
        new WorkspaceAdmission(
            ValidationOptions.bringYourOwnNodes(),
            CatalogPresetChecks.azure(),
            l ->
                List.of(
                    gpuNode("a", "NVIDIA-A100", "1", "81920"),
                    gpuNode("b", "NVIDIA-T4", "1", "16384")));
    assertThat(mixed.review("CREATE", byo(), null).message())
        .startsWith("Non-uniform GPU product/count/memory");

    var unlabelled =
        new WorkspaceAdmission(
            ValidationOptions.bringYourOwnNodes(),
            CatalogPresetChecks.azure(),
            l -> List.of(new NodeBuilder().withNewMetadata().withName("c").endMetadata().build()));
    assertThat(unlabelled.review("CREATE", byo(), null).message())
        .startsWith("Failed to get GPU config from nvidia labels on node c");

    var good =
        new WorkspaceAdmission(
            ValidationOptions.bringYourOwnNodes(),
            CatalogPresetChecks.azure(),
            l -> List.of(gpuNode("a", "NVIDIA-A100", "1", "81920")));
    assertThat(good.review("CREATE", byo(), null).allowed()).isTrue();
  }

  static Workspace tuning(String method, String config) {
    return TestWorkspaces.tuning(method, config);
  }

  @Test
  void tuningConfigMapIsCheckedWithUpstreamsRulesAndMessages() {
    Map<String, io.fabric8.kubernetes.api.model.ConfigMap> cms =
        Map.of(
            "bad",
            new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                .withNewMetadata()
                .withName("bad")
                .endMetadata()
                .addToData(
                    "training_config.yaml",
                    "training_config:\n  QuantizationConfig:\n    load_in_4bit: true\n")
                .build());
    var admission =
        new WorkspaceAdmission(
            ValidationOptions.defaults(),
            CatalogPresetChecks.azure(),
            l -> List.of(),
            new sh.kaito.controller.tuning.TrainingConfigMaps(
                (ns, name) -> "default".equals(ns) ? cms.get(name) : null, "kaito-system"));
    assertThat(admission.review("CREATE", tuning("lora", null), null).message()).isEmpty();
    assertThat(admission.review("CREATE", tuning("qlora", "bad"), null).message()).isEmpty();
    assertThat(admission.review("CREATE", tuning("lora", "bad"), null).message())
        .isEqualTo(
            "Failed to evaluate validateConfigMap: For method 'lora', 'load_in_4bit' or"
                + " 'load_in_8bit' in ConfigMap 'bad' must not be true: QuantizationConfig:"
                + " tuning.Config");
    assertThat(admission.review("CREATE", tuning("lora", "missing"), null).message())
        .isEqualTo(
            "Failed to evaluate validateConfigMap: ConfigMap 'missing' specified in 'config' not"
                + " found in namespace 'default': config: tuning.Config");
    // An update that names another config is checked; one that keeps it is not.
    assertThat(
            admission
                .review("UPDATE", tuning("lora", "missing"), tuning("lora", "missing"))
                .allowed())
        .isTrue();
    assertThat(admission.review("UPDATE", tuning("lora", "bad"), tuning("lora", null)).allowed())
        .isFalse();
  }

  @Test
  void autoProvisioningUsesTheCatalogSizing() {
    var admission =
        new WorkspaceAdmission(
            ValidationOptions.defaults(), CatalogPresetChecks.azure(), l -> List.of());
    Workspace medium =
        TestWorkspaces.phi3Inference(
            w -> {
              w.setResource(w.getResource().withInstanceType("Standard_NC6s_v3"));
              w.setInference(
                  new sh.kaito.api.v1beta1.InferenceSpec(
                      sh.kaito.api.v1beta1.PresetSpec.named("phi-3-medium-128k-instruct"),
                      null,
                      null,
                      null));
              return w;
            });
    var d = admission.review("CREATE", medium, null);
    assertThat(d.allowed()).isFalse();
    assertThat(d.message())
        .contains("Insufficient total GPU memory: Instance type Standard_NC6s_v3");
    assertThat(admission.review("CREATE", TestWorkspaces.phi3Inference(w -> w), null).allowed())
        .isTrue();
  }
}
