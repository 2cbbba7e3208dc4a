package sh.kaito.controller.status;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.List;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.controller.provision.NodeReadiness;

/**
 * What one reconcile saw: the inputs of {@link StatusCalculator}.
 *
 * @param workspace the workspace (its current status is the previous one)
 * @param nodes the provisioner's view, or null when nodes were not looked at
 * @param job the tuning Job, or null
 * @param statefulSet the inference StatefulSet (also serve-after-tuning), or null
 * @param pods the workspace's pods (Job and StatefulSet)
 * @param serveAfterTuning true when a tuning workspace serves its adapter once the job succeeded
 * @param targetNodeCount nodes the workspace needs
 * @param reconcileError what went wrong in this reconcile, or null
 * @param tuningProgress progress read from the running tuning pod now, or null (keep the last)
 */
public record Observed(
    Workspace workspace,
    NodeReadiness nodes,
    Job job,
    StatefulSet statefulSet,
    List<Pod> pods,
    boolean serveAfterTuning,
    Integer targetNodeCount,
    String reconcileError,
    sh.kaito.api.v1beta1.TuningProgress tuningProgress) {

  public Observed {
    pods = pods == null ? List.of() : List.copyOf(pods);
  }
}
