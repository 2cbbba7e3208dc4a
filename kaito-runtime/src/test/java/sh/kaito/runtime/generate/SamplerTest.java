package sh.kaito.runtime.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SamplerTest {

  private static final float[] LOGITS = {2f, 1f, 0.5f, -1f, 3f, 0f};

  private static SamplingParams sampling(double temperature, int topK, double topP, long seed) {
    return SamplingParams.builder().sample(temperature, topK, topP, seed).build();
  }

  private static Set<Long> drawn(SamplingParams params, int draws) {
    Sampler s = new Sampler(params);
    Set<Long> seen = new HashSet<>();
    for (int i = 0; i < draws; i++) {
      seen.add(s.next(LOGITS.clone(), new long[0], 0));
    }
    return seen;
  }

  @Test
  void greedyTakesTheArgmax() {
    assertThat(new Sampler(SamplingParams.greedy(4, Set.of())).next(LOGITS.clone(), new long[0], 0))
        .isEqualTo(4);
  }

  @Test
  void sameSeedSameTokensDifferentSeedDifferentTokens() {
    Sampler a = new Sampler(sampling(1.5, 0, 1, 7));
    Sampler b = new Sampler(sampling(1.5, 0, 1, 7));
    Sampler c = new Sampler(sampling(1.5, 0, 1, 8));
    long[] ra = new long[40];
    long[] rb = new long[40];
    long[] rc = new long[40];
    for (int i = 0; i < 40; i++) {
      ra[i] = a.next(LOGITS.clone(), new long[0], i);
      rb[i] = b.next(LOGITS.clone(), new long[0], i);
      rc[i] = c.next(LOGITS.clone(), new long[0], i);
    }
    assertThat(ra).containsExactly(rb);
    assertThat(ra).isNotEqualTo(rc);
  }

  @Test
  void topKKeepsOnlyTheKMostLikely() {
    assertThat(drawn(sampling(5, 2, 1, 1), 300)).containsExactlyInAnyOrder(4L, 0L);
  }

  @Test
  void topPKeepsTheSmallestSetReachingP() {
    // softmax: p(4)=.61, p(0)=.22, p(1)=.08 ... -> top_p 0.8 keeps {4, 0}
    assertThat(drawn(sampling(1, 0, 0.8, 1), 300)).containsExactlyInAnyOrder(4L, 0L);
  }

  @Test
  void typicalPDropsTokensFarFromTheEntropy() {
    Set<Long> seen = drawn(sampling(1, 0, 1, 1).toBuilder().typicalP(0.5).build(), 300);
    assertThat(seen).isNotEmpty().hasSizeLessThan(LOGITS.length);
  }

  @Test
  void repetitionPenaltyDemotesSeenTokens() {
    SamplingParams p = SamplingParams.builder().maxNewTokens(4).repetitionPenalty(2.0).build();
    // token 4 (3.0 -> 1.5) falls below token 0 (2.0)
    assertThat(new Sampler(p).next(LOGITS.clone(), new long[] {4}, 0)).isEqualTo(0);
  }

  @Test
  void minNewTokensSuppressesEos() {
    SamplingParams p =
        SamplingParams.builder().maxNewTokens(4).eosTokenIds(Set.of(4L)).minNewTokens(2).build();
    Sampler s = new Sampler(p);
    assertThat(s.next(LOGITS.clone(), new long[0], 1)).isEqualTo(0);
    assertThat(s.next(LOGITS.clone(), new long[0], 2)).isEqualTo(4);
  }

  @Test
  void invalidParametersAreRejected() {
    assertThatThrownBy(() -> sampling(0, 0, 1, 1)).hasMessageContaining("temperature");
    assertThatThrownBy(() -> sampling(1, 0, 1.5, 1)).hasMessageContaining("top_p");
    assertThatThrownBy(() -> SamplingParams.greedy(0, Set.of()))
        .hasMessageContaining("max_new_tokens");
    assertThat(SamplingParams.builder().stopStrings(List.of("x")).build().stopStrings())
        .containsExactly("x");
  }
}
