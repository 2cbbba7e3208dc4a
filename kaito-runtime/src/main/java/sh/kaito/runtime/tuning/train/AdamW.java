package sh.kaito.runtime.tuning.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * torch's {@code AdamW} (single-tensor path, no amsgrad), element by element in fp32 as torch
 * computes it, plus torch's {@code clip_grad_norm_}. State is the step count and the two moment
 * tensors per parameter, so a checkpoint can hold it exactly.
 */
final class AdamW {

  private final double beta1;
  private final double beta2;
  private final double epsilon;
  private final double weightDecay;
  private final Map<String, float[]> expAvg = new LinkedHashMap<>();
  private final Map<String, float[]> expAvgSq = new LinkedHashMap<>();
  private int step;

  AdamW(TrainingPlan plan) {
    this.beta1 = plan.beta1();
    this.beta2 = plan.beta2();
    this.epsilon = plan.epsilon();
    this.weightDecay = plan.weightDecay();
  }

  /** Updates every parameter in place from its gradient with learning rate {@code lr}. */
  void step(Map<String, float[]> params, Map<String, float[]> grads, double lr) {
    step++;
    double bias1 = 1 - Math.pow(beta1, step);
    double bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
    float decay = (float) (1 - lr * weightDecay);
    float lerpWeight = (float) (1 - beta1);
    float b2 = (float) beta2;
    float oneMinusB2 = (float) (1 - beta2);
    float bias2SqrtF = (float) bias2Sqrt;
    float eps = (float) epsilon;
    float negStepSize = (float) (-(lr / bias1));
    for (var e : params.entrySet()) {
      float[] p = e.getValue();
      float[] g = grads.get(e.getKey());
      float[] m = expAvg.computeIfAbsent(e.getKey(), k -> new float[p.length]);
      float[] v = expAvgSq.computeIfAbsent(e.getKey(), k -> new float[p.length]);
      for (int i = 0; i < p.length; i++) {
        if (weightDecay != 0) {
          p[i] *= decay;
        }
        m[i] = m[i] + lerpWeight * (g[i] - m[i]); // exp_avg.lerp_(grad, 1 - beta1)
        v[i] = v[i] * b2 + oneMinusB2 * g[i] * g[i];
        float denom = (float) Math.sqrt(v[i]) / bias2SqrtF + eps;
        p[i] = p[i] + negStepSize * m[i] / denom;
      }
    }
  }

  /**
   * torch's {@code clip_grad_norm_}: scales all gradients by {@code max / (norm + 1e-6)} when that
   * is below 1. Returns the total 2-norm before clipping.
   */
  static double clipGradNorm(Map<String, float[]> grads, double maxNorm) {
    double sum = 0;
    for (float[] g : grads.values()) {
      double s = 0;
      for (float x : g) {
        s += (double) x * x;
      }
      sum += s;
    }
    double norm = Math.sqrt(sum);
    double coef = maxNorm / (norm + 1e-6);
    if (maxNorm > 0 && coef < 1) {
      float c = (float) coef;
      for (float[] g : grads.values()) {
        for (int i = 0; i < g.length; i++) {
          g[i] *= c;
        }
      }
    }
    return norm;
  }

  int stepCount() {
    return step;
  }

  Map<String, float[]> firstMoments() {
    return expAvg;
  }

  Map<String, float[]> secondMoments() {
    return expAvgSq;
  }

  /** Restores a checkpoint's state. */
  void restore(int step, Map<String, float[]> first, Map<String, float[]> second) {
    this.step = step;
    expAvg.clear();
    expAvg.putAll(first);
    expAvgSq.clear();
    expAvgSq.putAll(second);
  }
}
