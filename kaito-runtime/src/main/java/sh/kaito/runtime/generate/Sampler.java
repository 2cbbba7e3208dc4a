package sh.kaito.runtime.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: HF's processors in HF's order (repetition penalty, min new
 * tokens, then temperature, top-k, top-p, typical-p) and a draw from a seeded generator. One
 * sampler per sequence; not thread-safe.
 */
public final class Sampler {

  private final SamplingParams params;
  private final SplittableRandom random;

  public Sampler(SamplingParams params) {
    this.params = params;
    this.random = new SplittableRandom(params.seed());
  }

  /**
   * @param logits next-token logits (modified in place)
   * @param history prompt and generated tokens so far
   * @param generated how many tokens were generated so far
   */
  public long next(float[] logits, long[] history, int generated) {
    if (params.repetitionPenalty() != 1) {
      float penalty = (float) params.repetitionPenalty();
      boolean[] seen = new boolean[logits.length];
      for (long t : history) {
        int i = (int) t;
        if (!seen[i]) {
          seen[i] = true;
          logits[i] = logits[i] < 0 ? logits[i] * penalty : logits[i] / penalty;
        }
      }
    }
    if (generated < params.minNewTokens()) {
      for (long eos : params.eosTokenIds()) {
        if (eos >= 0 && eos < logits.length) {
          logits[(int) eos] = Float.NEGATIVE_INFINITY;
        }
      }
    }
    if (!params.doSample()) {
      return argmax(logits);
    }
    if (params.temperature() != 1) {
      float t = (float) params.temperature();
      for (int i = 0; i < logits.length; i++) {
        logits[i] /= t;
      }
    }
    if (params.topK() > 0 && params.topK() < logits.length) {
      float[] sorted = logits.clone();
      Arrays.sort(sorted);
      float kth = sorted[sorted.length - params.topK()];
      for (int i = 0; i < logits.length; i++) {
        if (logits[i] < kth) {
          logits[i] = Float.NEGATIVE_INFINITY;
        }
      }
    }
    if (params.topP() < 1) {
      topP(logits, params.topP());
    }
    if (params.typicalP() < 1) {
      typical(logits, params.typicalP());
    }
    return draw(softmax(logits));
  }

  static int argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }

  private int draw(double[] probs) {
    double u = random.nextDouble();
    double acc = 0;
    int last = 0;
    for (int i = 0; i < probs.length; i++) {
      if (probs[i] > 0) {
        acc += probs[i];
        last = i;
        if (u < acc) {
          return i;
        }
      }
    }
    return last;
  }

  static double[] softmax(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double[] p = new double[logits.length];
    double sum = 0;
    for (int i = 0; i < logits.length; i++) {
      p[i] = logits[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(logits[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= sum;
    }
    return p;
  }

  /** Indices sorted by ascending key. */
  private static Integer[] order(double[] key) {
    Integer[] idx = new Integer[key.length];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    Arrays.sort(idx, (a, b) -> Double.compare(key[a], key[b]));
    return idx;
  }

  /** HF TopPLogitsWarper: drop the least likely tokens whose mass is at most 1 - top_p. */
  private static void topP(float[] logits, double topP) {
    double[] p = softmax(logits);
    Integer[] asc = order(p);
    double cum = 0;
    for (int r = 0; r < asc.length - 1; r++) { // always keep the most likely token
      cum += p[asc[r]];
      if (cum <= 1 - topP) {
        logits[asc[r]] = Float.NEGATIVE_INFINITY;
      } else {
        break;
      }
    }
  }

  /** HF TypicalLogitsWarper: keep the tokens closest to the expected information content. */
  private static void typical(float[] logits, double mass) {
    double[] p = softmax(logits);
    double entropy = 0;
    for (double pi : p) {
      if (pi > 0) {
        entropy -= pi * Math.log(pi);
      }
    }
    double[] shifted = new double[p.length];
    for (int i = 0; i < p.length; i++) {
      shifted[i] = p[i] > 0 ? Math.abs(-Math.log(p[i]) - entropy) : Double.POSITIVE_INFINITY;
    }
    Integer[] byTypicality = order(shifted);
    double cum = 0;
    int lastKept = 0;
    for (int r = 0; r < byTypicality.length; r++) {
      cum += p[byTypicality[r]];
      if (cum < mass) {
        lastKept = r + 1;
      }
    }
    for (int r = lastKept + 1; r < byTypicality.length; r++) {
      logits[byTypicality[r]] = Float.NEGATIVE_INFINITY;
    }
  }
}
