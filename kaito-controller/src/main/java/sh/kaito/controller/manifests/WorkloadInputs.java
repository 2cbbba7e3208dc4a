package sh.kaito.controller.manifests;

import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import java.util.List;
import java.util.Objects;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.controller.ControllerOptions;

/**
 * Everything a desired workload is computed from: no client, no clock.
 *
 * @param workspace the workspace as observed
 * @param presetName the model preset ({@code inference.preset.name} or {@code tuning.preset.name});
 *     null for an {@code inference.template} workspace
 * @param gpusPerNode {@code nvidia.com/gpu} each pod requests (the SKU's GPU count); 0 for a
 *     template of an unknown SKU (the template's containers say what they request)
 * @param replicas pods (one per node), i.e. {@code status.targetNodeCount}
 * @param revision the workspace revision the workload is stamped with
 * @param provisionerSelector node requirements the provisioner adds (its ownership labels)
 * @param options operator configuration
 */
public record WorkloadInputs(
    Workspace workspace,
    String presetName,
    int gpusPerNode,
    int replicas,
    String revision,
    List<NodeSelectorRequirement> provisionerSelector,
    ControllerOptions options) {

  public WorkloadInputs {
    Objects.requireNonNull(workspace, "workspace");
    Objects.requireNonNull(options, "options");
    provisionerSelector =
        provisionerSelector == null ? List.of() : List.copyOf(provisionerSelector);
  }

  public String name() {
    return workspace.getMetadata().getName();
  }

  public String namespace() {
    return workspace.getMetadata().getNamespace();
  }
}
