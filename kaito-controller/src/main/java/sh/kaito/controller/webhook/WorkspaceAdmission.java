package sh.kaito.controller.webhook;

import io.fabric8.kubernetes.api.model.Node;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.api.validation.PresetChecks;
import sh.kaito.api.validation.ValidationOptions;
import sh.kaito.api.validation.ValidationResult;
import sh.kaito.api.validation.WorkspaceValidator;

/**
 * The admission decision for a Workspace: kaito-api's pure rules with the presets' GPU sizing, plus
 * the bring-your-own-node checks that need the cluster's nodes (upstream's messages).
 */
public final class WorkspaceAdmission {

  /** Allowed or not, with upstream's message and any warnings. */
  public record Decision(boolean allowed, String message, List<String> warnings) {}

  private final ValidationOptions options;
  private final WorkspaceValidator validator;
  private final Function<Map<String, String>, List<Node>> nodesWithLabels;

  public WorkspaceAdmission(
      ValidationOptions options,
      PresetChecks presets,
      Function<Map<String, String>, List<Node>> nodesWithLabels) {
    this.options = options;
    this.validator = new WorkspaceValidator(options, presets);
    this.nodesWithLabels = nodesWithLabels;
  }

  public Decision review(String operation, Workspace workspace, Workspace old) {
    ValidationResult result =
        "UPDATE".equals(operation) && old != null
            ? validator.validateUpdate(old, workspace)
            : validator.validateCreate(workspace);
    List<String> errors = new ArrayList<>();
    if (!result.isValid()) {
      errors.add(result.message());
    }
    if ("CREATE".equals(operation) && !options.nodeAutoProvisioning() && workspace.hasInference()) {
      errors.addAll(bringYourOwnNodeErrors(workspace));
    }
    return new Decision(errors.isEmpty(), String.join("\n", errors), result.warnings());
  }

  /** Upstream's BYO checks: matching nodes exist and carry uniform NVIDIA GPU labels. */
  List<String> bringYourOwnNodeErrors(Workspace workspace) {
    Map<String, String> labels =
        WorkspaceLabels.sanitizedMatchLabels(
            workspace.getResource() == null ? null : workspace.getResource().labelSelector());
    List<Node> nodes = labels.isEmpty() ? List.of() : nodesWithLabels.apply(labels);
    if (nodes.isEmpty()) {
      return List.of("No nodes found matching the specified label selector");
    }
    String product = null;
    String count = null;
    String memory = null;
    for (Node node : nodes) {
      Map<String, String> l =
          node.getMetadata().getLabels() == null ? Map.of() : node.getMetadata().getLabels();
      String p = l.get("nvidia.com/gpu.product");
      String c = l.get("nvidia.com/gpu.count");
      String m = l.get("nvidia.com/gpu.memory");
      if (p == null || c == null || m == null) {
        return List.of(
            "Failed to get GPU config from nvidia labels on node "
                + node.getMetadata().getName()
                + ": missing nvidia.com/gpu.product, nvidia.com/gpu.count or nvidia.com/gpu.memory"
                + " label");
      }
      if (product == null) {
        product = p;
        count = c;
        memory = m;
      } else if (!product.equals(p) || !count.equals(c) || !memory.equals(m)) {
        return List.of(
            "Non-uniform GPU product/count/memory across nodes matching the label selector: "
                + product
                + "/"
                + count
                + "/"
                + memory
                + " on one node, "
                + p
                + "/"
                + c
                + "/"
                + m
                + " on "
                + node.getMetadata().getName());
      }
    }
    return List.of();
  }
}
