package sh.kaito.controller.webhook;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import sh.kaito.api.v1beta1.TuningSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.api.validation.FieldError;
import sh.kaito.api.validation.PresetChecks;
import sh.kaito.api.validation.TrainingConfigRules;
import sh.kaito.api.validation.ValidationOptions;
import sh.kaito.api.validation.ValidationResult;
import sh.kaito.api.validation.WorkspaceValidator;
import sh.kaito.controller.tuning.TrainingConfigMaps;

/**
 * The admission decision for a Workspace: kaito-api's pure rules with the presets' GPU sizing, plus
 * the checks that need the cluster (upstream's messages): bring-your-own nodes, and the training
 * config ConfigMap of a tuning workspace.
 */
public final class WorkspaceAdmission {

  /** Allowed or not, with upstream's message and any warnings. */
  public record Decision(boolean allowed, String message, List<String> warnings) {}

  private final ValidationOptions options;
  private final WorkspaceValidator validator;
  private final Function<Map<String, String>, List<Node>> nodesWithLabels;
  private final TrainingConfigMaps trainingConfigs;

  /** Without ConfigMaps: a tuning workspace may use only the built-in default configs. */
  public WorkspaceAdmission(
      ValidationOptions options,
      PresetChecks presets,
      Function<Map<String, String>, List<Node>> nodesWithLabels) {
    this(options, presets, nodesWithLabels, TrainingConfigMaps.builtInOnly());
  }

  public WorkspaceAdmission(
      ValidationOptions options,
      PresetChecks presets,
      Function<Map<String, String>, List<Node>> nodesWithLabels,
      TrainingConfigMaps trainingConfigs) {
    this.options = options;
    this.validator = new WorkspaceValidator(options, presets);
    this.nodesWithLabels = nodesWithLabels;
    this.trainingConfigs = trainingConfigs;
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
    // Upstream checks the config on create; a config changed by an update makes a new Job, so it
    // is checked then too.
    if (workspace.hasTuning()
        && ("CREATE".equals(operation)
            || old == null
            || !old.hasTuning()
            || !Objects.equals(old.getTuning().config(), workspace.getTuning().config()))) {
      trainingConfigError(workspace).ifPresent(errors::add);
    }
    return new Decision(errors.isEmpty(), String.join("\n", errors), result.warnings());
  }

  /**
   * Upstream's {@code validateConfigMap}: the named ConfigMap (or the method's default template)
   * exists and passes {@link TrainingConfigRules}; its errors wrapped as upstream wraps them.
   */
  Optional<String> trainingConfigError(Workspace workspace) {
    TuningSpec tuning = workspace.getTuning();
    String method = tuning.normalizedMethod();
    if (TrainingConfigRules.defaultTemplateName(method) == null) {
      return Optional.empty(); // the method itself is refused by the validator
    }
    String ns = workspace.getMetadata().getNamespace();
    String inner;
    try {
      Optional<TrainingConfigMaps.Found> found = trainingConfigs.find(ns, tuning);
      if (found.isEmpty()) {
        inner =
            "ConfigMap '"
                + tuning.config()
                + "' specified in 'config' not found in namespace '"
                + ns
                + "': config";
      } else {
        TrainingConfigMaps.Found f = found.get();
        var result =
            TrainingConfigRules.validate(
                f.name(), f.namespace().isEmpty() ? ns : f.namespace(), f.data(), method);
        if (result.isValid()) {
          return Optional.empty();
        }
        inner = result.message();
      }
    } catch (KubernetesClientException e) {
      inner =
          "Failed to get ConfigMap '"
              + tuning.config()
              + "' in namespace '"
              + ns
              + "': "
              + e.getMessage()
              + ": config";
    }
    return Optional.of(
        new FieldError(
                "Failed to evaluate validateConfigMap: " + inner, List.of("tuning.Config"), "")
            .render());
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
