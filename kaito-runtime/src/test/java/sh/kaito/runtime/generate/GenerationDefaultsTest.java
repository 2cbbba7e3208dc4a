package sh.kaito.runtime.generate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

class GenerationDefaultsTest {

  private static SamplingParams parse(String json, List<Long> configEos) throws Exception {
    return GenerationDefaults.fromJson(
            new ObjectMapper().readTree(json.replace('\'', '"')), configEos)
        .build();
  }

  @Test
  void samplingFileSetsWarpersWithHfDefaultsForTheRest() throws Exception {
    SamplingParams p =
        parse(
            "{'do_sample':true,'temperature':0.6,'top_p':0.9,'eos_token_id':[128001,128009],"
                + "'max_new_tokens':77}",
            List.of(2L));
    assertThat(p.doSample()).isTrue();
    assertThat(p.temperature()).isEqualTo(0.6);
    assertThat(p.topK()).isEqualTo(50); // HF GenerationConfig's default
    assertThat(p.topP()).isEqualTo(0.9);
    assertThat(p.maxNewTokens()).isEqualTo(77);
    assertThat(p.eosTokenIds()).containsExactlyInAnyOrder(128001L, 128009L);
  }

  @Test
  void noFileMeansGreedyWithTheConfigEos() throws Exception {
    SamplingParams p = parse("{}", List.of(2L, 7L));
    assertThat(p.doSample()).isFalse();
    assertThat(p.eosTokenIds()).containsExactlyInAnyOrder(2L, 7L);
    assertThat(p.repetitionPenalty()).isEqualTo(1.0);
  }
}
