package sh.kaito.controller.progress;

import io.fabric8.kubernetes.api.model.Pod;
import java.util.Optional;
import sh.kaito.api.v1beta1.TuningProgress;

/**
 * Where the progress of a running tuning pod comes from. Contract: returns quickly (bounded by a
 * short timeout), empty when the pod has nothing to say yet or cannot be reached; never throws.
 */
public interface TuningProgressSource {
  Optional<TuningProgress> read(Pod pod);

  /** Never asks anything: progress polling is off. */
  TuningProgressSource NONE = pod -> Optional.empty();

  static TuningProgressSource none() {
    return NONE;
  }
}
