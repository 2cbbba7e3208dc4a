package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/**
 * {@code status}, written only by the controller through the status subresource.
 *
 * @param workerNodes sorted names of the ready nodes the workspace runs on
 * @param conditions see {@link WorkspaceConditions}
 * @param state a one-word summary, see {@link WorkspaceState} (v1beta1)
 * @param targetNodeCount how many nodes the workspace needs, computed once (v1beta1)
 * @param tuningProgress live progress of a tuning job (our addition; absent upstream)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record WorkspaceStatus(
    List<String> workerNodes,
    List<Condition> conditions,
    String state,
    Integer targetNodeCount,
    TuningProgress tuningProgress) {

  public static WorkspaceStatus empty() {
    return new WorkspaceStatus(null, null, null, null, null);
  }

  /** The conditions, never null. */
  public List<Condition> conditionsOrEmpty() {
    return conditions == null ? List.of() : conditions;
  }

  public WorkspaceStatus withConditions(List<Condition> newConditions) {
    return new WorkspaceStatus(workerNodes, newConditions, state, targetNodeCount, tuningProgress);
  }

  public WorkspaceStatus withState(String newState) {
    return new WorkspaceStatus(workerNodes, conditions, newState, targetNodeCount, tuningProgress);
  }

  public WorkspaceStatus withWorkerNodes(List<String> nodes) {
    return new WorkspaceStatus(nodes, conditions, state, targetNodeCount, tuningProgress);
  }

  public WorkspaceStatus withTargetNodeCount(Integer count) {
    return new WorkspaceStatus(workerNodes, conditions, state, count, tuningProgress);
  }

  public WorkspaceStatus withTuningProgress(TuningProgress progress) {
    return new WorkspaceStatus(workerNodes, conditions, state, targetNodeCount, progress);
  }
}
