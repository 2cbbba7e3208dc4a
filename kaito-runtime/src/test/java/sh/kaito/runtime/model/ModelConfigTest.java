package sh.kaito.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class ModelConfigTest {

  private static JsonNode json(String s) throws Exception {
    return new ObjectMapper().readTree(s.replace('\'', '"'));
  }

  private static final String BASE =
      "'hidden_size':64,'intermediate_size':96,'num_hidden_layers':3,'num_attention_heads':4,"
          + "'vocab_size':100";

  @Test
  void qwen2HasQkvBiasAndSlidingWindowOnlyAboveMaxWindowLayers() throws Exception {
    ModelConfig c =
        ModelConfig.parse(
            json(
                "{'architectures':['Qwen2ForCausalLM'],"
                    + BASE
                    + ",'num_key_value_heads':2,'use_sliding_window':true,'sliding_window':8,"
                    + "'max_window_layers':1}"),
            "t");
    assertThat(c.attentionBias()).isTrue();
    assertThat(c.outputBias()).isFalse();
    assertThat(c.kvGroups()).isEqualTo(2);
    assertThat(c.slidingWindowPerLayer()).containsExactly(0, 8, 8);
  }

  @Test
  void phi3LongRopeUsesTheRatioOfContextsForItsAttentionFactor() throws Exception {
    ModelConfig c =
        ModelConfig.parse(
            json(
                "{'architectures':['Phi3ForCausalLM'],"
                    + BASE
                    + ",'max_position_embeddings':131072,'original_max_position_embeddings':4096,"
                    + "'rope_scaling':{'type':'su','short_factor':[1,1,1,1,1,1,1,1],"
                    + "'long_factor':[2,2,2,2,2,2,2,2]}}"),
            "t");
    RopeScaling.LongRope rope = (RopeScaling.LongRope) c.rope();
    assertThat(rope.attentionScaling())
        .isCloseTo(
            (float) Math.sqrt(1 + Math.log(32) / Math.log(4096)),
            org.assertj.core.data.Offset.offset(1e-6f));
    assertThat(rope.inverseFrequencies(4095)[1]).isEqualTo(rope.inverseFrequencies(4095)[1]);
    assertThat(rope.inverseFrequencies(4096)[1] * 2)
        .isCloseTo(rope.inverseFrequencies(4095)[1], org.assertj.core.data.Offset.offset(1e-7f));
    assertThat(c.architecture().fusedProjections()).isTrue();
  }

  @Test
  void unsupportedThingsAreNamed() {
    assertThatThrownBy(
            () ->
                ModelConfig.parse(json("{'architectures':['GPT2LMHeadModel']," + BASE + "}"), "t"))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("GPT2LMHeadModel");
    assertThatThrownBy(
            () ->
                ModelConfig.parse(
                    json(
                        "{'architectures':['LlamaForCausalLM'],"
                            + BASE
                            + ",'rope_scaling':{'rope_type':'yarn','factor':4}}"),
                    "t"))
        .hasMessageContaining("yarn");
    assertThatThrownBy(() -> ModelConfig.parse(json("{'architectures':['LlamaForCausalLM']}"), "t"))
        .hasMessageContaining("hidden_size");
  }
}
