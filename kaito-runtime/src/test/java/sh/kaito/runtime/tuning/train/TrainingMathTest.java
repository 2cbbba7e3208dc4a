package sh.kaito.runtime.tuning.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import sh.kaito.runtime.model.Architecture;

/**
 * The pieces of the training loop that need no model: schedules, PEFT matching, AdamW, clipping.
 */
class TrainingMathTest {

  @Test
  void linearAndCosineSchedulesFollowTransformers() {
    LearningRateSchedule linear = new LearningRateSchedule("linear", 1.0, 3, 0, 10);
    // transformers' get_linear_schedule_with_warmup: step/warmup, then (total-step)/(total-warmup)
    assertThat(linear.rate(0)).isZero();
    assertThat(linear.rate(1)).isCloseTo(1 / 3.0, within(1e-15));
    assertThat(linear.rate(3)).isCloseTo(1.0, within(1e-15));
    assertThat(linear.rate(5)).isCloseTo(5 / 7.0, within(1e-15));
    assertThat(linear.rate(10)).isZero();
    LearningRateSchedule cosine = new LearningRateSchedule("cosine", 2.0, 0, 0.25, 8);
    // warmup_ratio 0.25 of 8 steps: ceil(2) warm-up steps; halfway through the decay: 0.5
    assertThat(cosine.rate(1)).isCloseTo(1.0, within(1e-15));
    assertThat(cosine.rate(5)).isCloseTo(1.0, within(1e-12));
    assertThat(new LearningRateSchedule("constant", 3.0, 5, 0, 10).rate(0)).isEqualTo(3.0);
    assertThatThrownBy(() -> new LearningRateSchedule("polynomial", 1, 0, 0, 1))
        .hasMessageContaining("lr_scheduler_type 'polynomial' is not supported");
  }

  static final List<String> LLAMA =
      List.of(
          "model.layers.0.self_attn.q_proj",
          "model.layers.0.self_attn.k_proj",
          "model.layers.0.self_attn.v_proj",
          "model.layers.0.self_attn.o_proj",
          "model.layers.0.mlp.gate_proj",
          "model.layers.0.mlp.up_proj",
          "model.layers.0.mlp.down_proj");
  static final List<String> PHI3 =
      List.of(
          "model.layers.0.self_attn.qkv_proj",
          "model.layers.0.self_attn.o_proj",
          "model.layers.0.mlp.gate_up_proj",
          "model.layers.0.mlp.down_proj");

  @Test
  void targetModulesMatchAsPeft() {
    assertThat(new TargetModules.ArchitectureDefault().select(LLAMA, Architecture.LLAMA))
        .containsExactly(LLAMA.get(0), LLAMA.get(2));
    assertThat(new TargetModules.ArchitectureDefault().select(PHI3, Architecture.PHI3))
        .containsExactly(PHI3.get(0));
    assertThat(
            new TargetModules.Names(List.of("qkv_proj", "gate_up_proj"))
                .select(PHI3, Architecture.PHI3))
        .containsExactly(PHI3.get(0), PHI3.get(2));
    // a suffix must be whole dotted components: "proj" matches nothing
    assertThatThrownBy(
            () -> new TargetModules.Names(List.of("proj")).select(LLAMA, Architecture.LLAMA))
        .hasMessageContaining("not found in the base model")
        .hasMessageContaining("q_proj");
    assertThat(new TargetModules.Regex(".*mlp\\.(up|down)_proj").select(LLAMA, Architecture.LLAMA))
        .containsExactly(LLAMA.get(5), LLAMA.get(6));
    assertThat(new TargetModules.AllLinear().select(PHI3, Architecture.PHI3)).isEqualTo(PHI3);
  }

  @Test
  void clippingScalesByMaxOverNormAsTorch() {
    Map<String, float[]> grads = new LinkedHashMap<>();
    grads.put("a", new float[] {3});
    grads.put("b", new float[] {4});
    assertThat(AdamW.clipGradNorm(grads, 1.0)).isCloseTo(5.0, within(1e-12));
    // torch: max_norm / (total_norm + 1e-6)
    assertThat(grads.get("a")[0]).isCloseTo((float) (3 / (5 + 1e-6)), within(1e-7f));
    assertThat(grads.get("b")[0]).isCloseTo((float) (4 / (5 + 1e-6)), within(1e-7f));
    Map<String, float[]> small = Map.of("a", new float[] {0.1f});
    AdamW.clipGradNorm(small, 1.0);
    assertThat(small.get("a")[0]).isEqualTo(0.1f);
  }

  @Test
  void firstAdamWStepMovesEachWeightByTheLearningRate() {
    AdamW adam =
        new AdamW(TrainingPlan.builder().adamW(0.1, 0.5, 0.9, 0.999, 1e-8).length(1, 1).build());
    Map<String, float[]> params = Map.of("w", new float[] {1f, -2f});
    Map<String, float[]> grads = Map.of("w", new float[] {0.5f, -3f});
    adam.step(params, grads, 0.1);
    // bias-corrected m/sqrt(v) = sign(g) on the first step; decay multiplies by 1 - lr * wd first
    assertThat(params.get("w")[0]).isCloseTo(1f * 0.95f - 0.1f, within(1e-6f));
    assertThat(params.get("w")[1]).isCloseTo(-2f * 0.95f + 0.1f, within(1e-6f));
    assertThat(adam.stepCount()).isEqualTo(1);
  }
}
