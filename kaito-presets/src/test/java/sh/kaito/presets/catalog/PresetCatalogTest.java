package sh.kaito.presets.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class PresetCatalogTest {

  private final PresetCatalog catalog = PresetCatalog.builtIn();

  @Test
  void hasTheIssuePresetsAndCpuPresets() {
    assertThat(catalog.supported().stream().map(ModelPreset::name))
        .contains(
            "phi-3-mini-4k-instruct",
            "phi-3-mini-128k-instruct",
            "phi-3-medium-4k-instruct",
            "phi-3-medium-128k-instruct",
            "phi-3.5-mini-instruct",
            "phi-4",
            "phi-4-mini-instruct",
            "llama-3.1-8b-instruct",
            "mistral-7b",
            "mistral-7b-instruct",
            "qwen2.5-coder-7b-instruct")
        .doesNotContain("phi-2");
    assertThat(catalog.supported().stream().filter(ModelPreset::cpu).map(ModelPreset::name))
        .contains("smollm2-135m-instruct", "tiny-llama-random");
  }

  @Test
  void classicRequirementsAreUpstreams() {
    ModelPreset medium = catalog.find("phi-3-medium-128k-instruct").orElseThrow();
    assertThat(medium.inference().gpu().count()).isEqualTo(1);
    assertThat(medium.inference().gpu().totalMemory().toQuantity()).isEqualTo("28Gi");
    assertThat(medium.inference().gpu().perGpuMemory().toQuantity()).isEqualTo("0");
    assertThat(medium.disk().toQuantity()).isEqualTo("120Gi");
    assertThat(medium.config().contextLength()).isEqualTo(131072);
    assertThat(medium.versionUrl())
        .contains(
            "https://huggingface.co/microsoft/Phi-3-medium-128k-instruct/commit/fa7d2aa4f5ea69b2e36b20d050cdae79c9bfbb3f");
  }

  @Test
  void everyGpuPresetIsComplete() {
    for (ModelPreset p : catalog.all()) {
      if (p.cpu()) {
        // runs on a CPU; sized with at most a tiny GPU so any GPU node fits it
        assertThat(p.inference().gpu().totalMemory().compareTo(ByteSize.parse("1Gi")))
            .as(p.name())
            .isLessThanOrEqualTo(0);
        continue;
      }
      assertThat(p.hfRepo()).as(p.name()).contains("/");
      assertThat(p.revision()).as(p.name()).matches("[0-9a-f]{40}");
      assertThat(p.inference().gpu().count()).as(p.name()).isPositive();
      assertThat(p.inference().gpu().totalMemory().bytes()).as(p.name()).isPositive();
      assertThat(p.weights().compareTo(p.disk())).as(p.name()).isNegative();
      ModelConfig c = p.config();
      assertThat(c.hiddenSize()).as(p.name()).isEqualTo(c.attentionHeads() * c.headDim());
    }
  }

  @Test
  void tuningSupportFollowsUpstream() {
    assertThat(catalog.find("llama-3.1-8b-instruct").orElseThrow().supportsTuning()).isFalse();
    assertThat(catalog.find("mistral-7b-instruct").orElseThrow().supportsTuning()).isFalse();
    TuningSupport phi = catalog.find("phi-3-mini-4k-instruct").orElseThrow().tuning();
    assertThat(phi.gpu().totalMemory().toQuantity()).isEqualTo("72Gi");
    assertThat(phi.targetModules()).contains("q_proj", "down_proj").hasSize(7);
    assertThat(catalog.find("phi-4").orElseThrow().tuning().targetModules()).isEmpty();
  }

  @Test
  void lookupIsCaseInsensitiveAndKnowsDeprecated() {
    assertThat(catalog.lookup("Phi-3-Mini-4k-Instruct")).isInstanceOf(PresetMatch.Found.class);
    PresetMatch phi2 = catalog.lookup("phi-2");
    assertThat(phi2).isInstanceOf(PresetMatch.Deprecated.class);
    assertThat(phi2.message()).isEqualTo("Model phi-2 is deprecated and no longer supported");
    PresetMatch unknown = catalog.lookup("gpt-5");
    assertThat(unknown).isInstanceOf(PresetMatch.Unknown.class);
    assertThat(unknown.message()).isEqualTo("Unsupported inference preset name gpt-5");
    assertThat(catalog.find("phi-2")).isEmpty();
  }

  @Test
  void kvCacheBytesPerTokenIsUpstreamFormula() {
    // 2 bytes x 32 layers x 2 (K,V) x 8 kv heads x 128 head dim
    assertThat(catalog.find("llama-3.1-8b-instruct").orElseThrow().config().kvCacheBytesPerToken())
        .isEqualTo(131072);
  }

  @Test
  void badCatalogFilesAreRejected() {
    String unknownField =
        String.join(
            "\n",
            "presets:",
            "  - name: x",
            "    config: {layers: 1, hiddenSize: 8, attentionHeads: 2, kvHeads: 1, headDim: 4,"
                + " vocabSize: 16, contextLength: 32}",
            "    weights: 1Mi",
            "    disk: 1Gi",
            "    inference: {gpu: {count: 0}}",
            "    colour: red",
            "");
    assertThatThrownBy(
            () ->
                PresetCatalog.read(
                    new ByteArrayInputStream(unknownField.getBytes(StandardCharsets.UTF_8))))
        .hasMessageContaining("colour");
    ModelPreset p = catalog.find("phi-4").orElseThrow();
    assertThatThrownBy(() -> new PresetCatalog(List.of(p, p))).hasMessageContaining("duplicate");
  }

  @Test
  void tuningDefaultsAreUpstreamTemplates() {
    assertThat(TuningDefaults.forMethod("qlora").orElseThrow().trainingConfigYaml())
        .contains("load_in_4bit: true", "bnb_4bit_quant_type: \"nf4\"", "r: 8");
    assertThat(TuningDefaults.LORA.trainingConfigYaml())
        .contains("load_in_4bit: false", "output_dir: \"/mnt/results\"");
    assertThat(TuningDefaults.forMethod("full")).isEmpty();
  }
}
