package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.List;

/**
 * {@code resource}: the GPU nodes a workspace runs on.
 *
 * @param count number of nodes; the CRD defaults it to 1 (deprecated in v1beta1, still used for
 *     tuning, which must be 1)
 * @param instanceType cloud instance type, e.g. {@code Standard_NC24ads_A100_v4}; required when
 *     nodes are auto-provisioned, empty when the user brings their own nodes
 * @param labelSelector selects the workspace's nodes (required)
 * @param preferredNodes nodes to prefer (deprecated upstream)
 * @param partition GPU partitioning on bring-your-own nodes (v1beta1 only)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ResourceSpec(
    Integer count,
    String instanceType,
    LabelSelector labelSelector,
    List<String> preferredNodes,
    PartitionSpec partition) {

  /** The node count with the CRD's default applied. */
  public int countOrDefault() {
    return count == null ? 1 : count;
  }

  public ResourceSpec withCount(Integer newCount) {
    return new ResourceSpec(newCount, instanceType, labelSelector, preferredNodes, partition);
  }

  public ResourceSpec withInstanceType(String newInstanceType) {
    return new ResourceSpec(count, newInstanceType, labelSelector, preferredNodes, partition);
  }

  public ResourceSpec withLabelSelector(LabelSelector newSelector) {
    return new ResourceSpec(count, instanceType, newSelector, preferredNodes, partition);
  }

  public ResourceSpec withPartition(PartitionSpec newPartition) {
    return new ResourceSpec(count, instanceType, labelSelector, preferredNodes, newPartition);
  }
}
