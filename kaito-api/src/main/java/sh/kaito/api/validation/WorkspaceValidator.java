package sh.kaito.api.validation;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import sh.kaito.api.v1beta1.AdapterSpec;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.DataSource;
import sh.kaito.api.v1beta1.InferenceSpec;
import sh.kaito.api.v1beta1.PartitionSpec;
import sh.kaito.api.v1beta1.ResourceSpec;
import sh.kaito.api.v1beta1.TuningSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceAnnotations;
import sh.kaito.api.v1beta1.WorkspaceLabels;

/**
 * Upstream Kaito's admission rules for Workspaces (CREATE and UPDATE), as pure functions: no
 * client, no I/O. Messages and field paths are upstream's ({@code
 * api/v1beta1/workspace_validation.go}), rendered by {@link ValidationResult#message()} exactly as
 * upstream's webhook answers {@code kubectl apply}.
 *
 * <p>Where upstream is weak we are stricter, with upstream's own messages: adapters are checked on
 * create too (upstream: "TODO"), a tuning input or output changed by an update gets the create-time
 * checks again (so the SSRF guard cannot be bypassed by an update), and missing sections never
 * crash the validator.
 *
 * <p>Rules that need the model catalog run through {@link PresetChecks}; rules that need the
 * cluster (bring-your-own nodes, ConfigMaps) belong to the webhook in {@code kaito-controller}.
 */
public final class WorkspaceValidator {

  private final ValidationOptions options;
  private final PresetChecks presets;

  public WorkspaceValidator(ValidationOptions options, PresetChecks presets) {
    this.options = Objects.requireNonNull(options, "options");
    this.presets = Objects.requireNonNull(presets, "presets");
  }

  /** The rules for {@code kubectl create}/{@code apply} of a new workspace. */
  public ValidationResult validateCreate(Workspace workspace) {
    ValidationReport report = new ValidationReport();
    validateName(workspace, report);
    validateCreate(workspace, report);
    return report.result();
  }

  /** The rules for a change to an existing workspace, {@code old} being what is stored. */
  public ValidationResult validateUpdate(Workspace old, Workspace workspace) {
    ValidationReport report = new ValidationReport();
    validateName(workspace, report);
    validateToggles(old, workspace, report.via("spec"));
    validateResourceUpdate(resourceOf(old), resourceOf(workspace), report.via("resource"));
    String oldClass = old.annotations().get(WorkspaceAnnotations.NODE_CLASS_NAME);
    String newClass = workspace.annotations().get(WorkspaceAnnotations.NODE_CLASS_NAME);
    if (!Objects.equals(oldClass, newClass)) {
      validateNodeClassName(workspace, report);
    }
    if (workspace.getInference() != null && old.getInference() != null) {
      validateInferenceUpdate(
          old.getInference(), workspace.getInference(), report.via("inference"));
    }
    if (workspace.getTuning() != null && old.getTuning() != null) {
      validateTuningUpdate(old.getTuning(), workspace.getTuning(), report.via("tuning"));
    }
    return report.result();
  }

  private static void validateName(Workspace workspace, ValidationReport report) {
    String name = workspace.getMetadata() == null ? null : workspace.getMetadata().getName();
    List<String> problems = KubernetesNames.dns1123LabelErrors(name);
    if (!problems.isEmpty()) {
      report.invalidValue(String.join(", ", problems), "name");
    }
  }

  private void validateCreate(Workspace workspace, ValidationReport report) {
    ValidationReport spec = report.via("spec");
    if (workspace.getInference() == null && workspace.getTuning() == null) {
      spec.error("Either Inference or Tuning must be specified, not neither", "");
    }
    if (workspace.getInference() != null && workspace.getTuning() != null) {
      spec.error("Either Inference or Tuning must be specified, but not both", "");
    }
    ResourceSpec resource = resourceOf(workspace);
    String instanceType = nullToEmpty(resource.instanceType());
    if (options.nodeAutoProvisioning()) {
      if (instanceType.isEmpty()) {
        spec.missingField(
            "instanceType is required when node auto-provisioning is enabled",
            "resource.instanceType");
      }
    } else if (!instanceType.isEmpty()) {
      spec.invalidValue(
          "instanceType must be empty when node auto-provisioning is disabled (BYO scenario)",
          "resource.instanceType");
    }
    validateNodeImageFamily(workspace, spec);
    validateAnnotations(workspace, report);
    validateNodeClassName(workspace, report);

    if (workspace.getInference() != null) {
      ValidationReport resourceReport = report.via("resource");
      ValidationReport inferenceReport = report.via("inference");
      boolean presetUsable =
          validateInferenceCreate(workspace.getInference(), inferenceReport, resourceReport);
      if (presetUsable) {
        validateResourceForInference(workspace, resource, resourceReport, inferenceReport);
      }
    }
    if (workspace.getTuning() != null) {
      ValidationReport resourceReport = report.via("resource");
      ValidationReport tuningReport = report.via("tuning");
      if (resource.countOrDefault() > 1) {
        resourceReport.invalidValue(
            "Tuning does not currently support multinode configurations. Please set the node count"
                + " to 1. Future support with DeepSpeed will allow this.",
            "count");
      }
      if (resource.partition() != null) {
        resourceReport.invalidValue(
            "GPU partitioning is not supported for tuning workloads", "partition");
      }
      boolean presetUsable = validateTuningCreate(workspace.getTuning(), tuningReport);
      if (presetUsable) {
        presets.checkTuning(workspace, resourceReport, tuningReport);
      }
    }
  }

  private static void validateNodeImageFamily(Workspace workspace, ValidationReport spec) {
    String family = workspace.annotations().get(WorkspaceAnnotations.NODE_IMAGE_FAMILY);
    if (family == null) {
      return;
    }
    String normalized = family.trim().toLowerCase(java.util.Locale.ROOT);
    if (!WorkspaceAnnotations.NODE_IMAGE_FAMILIES.contains(normalized)) {
      spec.invalidValue(
          "unsupported node image family "
              + GoFloats.goQuote(family)
              + ", supported values are azurelinux, ubuntu",
          "metadata.annotations[" + GoFloats.goQuote(WorkspaceAnnotations.NODE_IMAGE_FAMILY) + "]");
    }
  }

  private static void validateAnnotations(Workspace workspace, ValidationReport report) {
    Map<String, String> annotations = workspace.annotations();
    String mode = annotations.get(WorkspaceAnnotations.PERFORMANCE_MODE);
    if (mode != null && !WorkspaceAnnotations.PERFORMANCE_MODES.contains(mode)) {
      report.invalidValue(
          GoFloats.goQuote(mode)
              + " is not a valid performance mode; choose one of: balanced, interactivity,"
              + " throughput",
          "metadata.annotations[" + WorkspaceAnnotations.PERFORMANCE_MODE + "]");
    }
    String localWeights = annotations.get(WorkspaceAnnotations.USE_LOCAL_WEIGHTS);
    if (localWeights != null && !localWeights.equals("true") && !localWeights.equals("false")) {
      report.invalidValue(
          GoFloats.goQuote(localWeights) + " must be \"true\" or \"false\"",
          "metadata.annotations[" + WorkspaceAnnotations.USE_LOCAL_WEIGHTS + "]");
    }
  }

  private void validateNodeClassName(Workspace workspace, ValidationReport report) {
    String name = workspace.annotations().get(WorkspaceAnnotations.NODE_CLASS_NAME);
    if (name == null || name.isEmpty() || !options.karpenterProvisioner()) {
      return;
    }
    if (!options.allowedNodeClassNames().contains(name)) {
      report.invalidValue(
          GoFloats.goQuote(name)
              + " is not a KAITO-managed NodeClass, supported values are ["
              + String.join(" ", options.allowedNodeClassNames())
              + "]",
          "metadata.annotations[" + GoFloats.goQuote(WorkspaceAnnotations.NODE_CLASS_NAME) + "]");
    }
  }

  /** Inference spec rules on create; false when the preset is unusable (skip sizing then). */
  private boolean validateInferenceCreate(
      InferenceSpec inference, ValidationReport report, ValidationReport resourceReport) {
    boolean presetUsable = true;
    if (inference.preset() == null && inference.template() == null) {
      report.missingField("Preset or Template must be specified");
    }
    if (inference.preset() != null && inference.template() != null) {
      report.error("Preset and Template cannot be set at the same time");
    }
    if (inference.preset() != null) {
      String name = nullToEmpty(inference.preset().name());
      PresetChecks.PresetLookup lookup = presets.lookup(name);
      if (lookup != PresetChecks.PresetLookup.SUPPORTED) {
        presetUsable = false;
        report.invalidValue("Unsupported inference preset name " + name, "presetName");
        if (lookup == PresetChecks.PresetLookup.DEPRECATED) {
          // Upstream reports this from the resource checks, under resource.presetName.
          resourceReport.error(
              "Model "
                  + name.toLowerCase(java.util.Locale.ROOT)
                  + " is deprecated and no longer supported",
              "presetName");
        }
      }
    }
    validateAdapters(inference.adaptersOrEmpty(), report);
    return presetUsable;
  }

  private void validateResourceForInference(
      Workspace workspace,
      ResourceSpec resource,
      ValidationReport resourceReport,
      ValidationReport inferenceReport) {
    Optional<String> selectorProblem = labelSelectorProblem(resource.labelSelector());
    if (selectorProblem.isPresent()) {
      resourceReport.invalidValue(selectorProblem.get(), "labelSelector");
      return;
    }
    LabelSelector selector = resource.labelSelector();
    if (selector != null
        && selector.getMatchLabels() != null
        && !selector.getMatchLabels().isEmpty()
        && WorkspaceLabels.sanitizedMatchLabels(selector).isEmpty()) {
      resourceReport.invalidValue(
          "matchLabels must contain at least one non-reserved label", "labelSelector.matchLabels");
      return;
    }
    if (!options.nodeAutoProvisioning()) {
      if (resource.partition() != null) {
        validatePartition(resource.partition(), resourceReport);
      }
    } else if (resource.partition() != null) {
      resourceReport.error(
          "GPU partitioning is only supported with BYO nodes (disableNodeAutoProvisioning=true)",
          "partition");
      return;
    }
    presets.checkInference(workspace, resourceReport, inferenceReport);
  }

  private void validatePartition(PartitionSpec partition, ValidationReport report) {
    String mode = nullToEmpty(partition.mode());
    switch (mode) {
      case PartitionSpec.MODE_MIG -> {
        if (!options.enableMig()) {
          report.error("MIG support is not enabled, set feature gate enableMIG=true", "partition");
        } else if (partition.count() != null) {
          report.invalidValue("count is only valid for accelerator mode", "partition.count");
        }
      }
      case PartitionSpec.MODE_ACCELERATOR -> {
        if (!options.enableAccelerator()) {
          report.error(
              "accelerator partition support is not enabled, set feature gate"
                  + " enableAccelerator=true",
              "partition");
          return;
        }
        if (partition.profile() != null && !partition.profile().isEmpty()) {
          report.invalidValue("profile is not valid for accelerator mode", "partition.profile");
        }
        if (partition.count() == null) {
          report.missingField("partition.count");
        }
      }
      default ->
          report.invalidValue(
              "unsupported partition mode "
                  + GoFloats.goQuote(mode)
                  + ", supported modes are \"mig\" and \"accelerator\"",
              "partition.mode");
    }
  }

  /** Tuning spec rules on create; false when the preset is unusable. */
  private boolean validateTuningCreate(TuningSpec tuning, ValidationReport report) {
    String method = tuning.normalizedMethod();
    if (!method.equals(TuningSpec.METHOD_LORA) && !method.equals(TuningSpec.METHOD_QLORA)) {
      report.invalidValue(nullToEmpty(tuning.method()), "Method");
    }
    if (tuning.input() == null) {
      report.missingField("Input");
    } else {
      validateDataSource(tuning.input(), report.via("Input"));
    }
    if (tuning.output() == null) {
      report.missingField("Output");
    } else {
      validateDataDestination(tuning.output(), report.via("Output"));
    }
    if (tuning.preset() == null) {
      report.missingField("Preset");
      return false;
    }
    String name = nullToEmpty(tuning.preset().name());
    if (presets.lookup(name) != PresetChecks.PresetLookup.SUPPORTED) {
      report.invalidValue("Unsupported tuning preset name " + name, "presetName");
      return false;
    }
    return true;
  }

  /** Input data: exactly one of URLs, a volume, an image; URLs pass the SSRF guard. */
  private static void validateDataSource(DataSource source, ValidationReport report) {
    int specified = 0;
    if (!source.urlsOrEmpty().isEmpty()) {
      for (String url : source.urlsOrEmpty()) {
        DataSourceUrls.problem(url).ifPresent(p -> report.invalidValue(p, "URLs"));
      }
      specified++;
    }
    if (source.image() != null && !source.image().isEmpty()) {
      ImageReferences.problem(source.image())
          .ifPresent(
              p -> report.invalidValue("Unable to parse input image reference: " + p, "Image"));
      specified++;
    }
    if (source.volumeSource() != null) {
      specified++;
    }
    if (specified != 1) {
      report.error(
          "Exactly one of URLs, Volume, or Image must be specified", "URLs", "Volume", "Image");
    }
  }

  /** Output: exactly one of a volume or an image; an image needs a push secret. */
  private static void validateDataDestination(DataDestination output, ValidationReport report) {
    int specified = 0;
    if (output.image() != null && !output.image().isEmpty()) {
      ImageReferences.problem(output.image())
          .ifPresent(
              p -> report.invalidValue("Unable to parse output image reference: " + p, "Image"));
      if (output.imagePushSecret() == null || output.imagePushSecret().isEmpty()) {
        report.missingField("Must specify imagePushSecret with destination image");
      }
      specified++;
    }
    if (output.volumeSource() != null) {
      specified++;
    }
    if (specified != 1) {
      report.missingField("Exactly one of Volume or Image must be specified");
    }
  }

  private static void validateAdapter(AdapterSpec adapter, ValidationReport report) {
    DataSource source = adapter.source();
    if (source == null) {
      report.missingField("Source");
      return;
    }
    validateDataSource(source, report.via("Adapters"));
    String name = nullToEmpty(source.name());
    if (name.isEmpty()) {
      report.missingField("Name of Adapter field must be specified");
    } else {
      List<String> problems = KubernetesNames.dns1123SubdomainErrors(name);
      if (!problems.isEmpty()) {
        report.invalidValue(String.join(", ", problems), "adapters.source.name");
      }
    }
    if (nullToEmpty(source.image()).isEmpty() && source.volumeSource() == null) {
      report.error(
          "Either Image or Volume must be specified for adapter source", "adapters.source");
    }
    if (!source.urlsOrEmpty().isEmpty()) {
      report.error("URLs are not supported as adapter source", "adapters.source.urls");
    }
    String strength =
        adapter.strength() == null ? AdapterSpec.DEFAULT_STRENGTH : adapter.strength();
    GoFloats.ParsedFloat parsed = GoFloats.parse(strength);
    if (parsed.error() != null) {
      report.error(
          "Invalid strength value for Adapter '" + name + "': " + parsed.error(), "adapter");
    }
    // NaN fails both comparisons upstream and slips through; we reject it as out of range.
    if (!(parsed.value() >= 0 && parsed.value() <= 1.0)) {
      report.error("Strength value for Adapter '" + name + "' must be between 0 and 1", "adapter");
    }
  }

  private static void validateDuplicateAdapterNames(
      List<AdapterSpec> adapters, ValidationReport report) {
    Set<String> seen = new HashSet<>();
    for (AdapterSpec adapter : adapters) {
      String name = nullToEmpty(adapter.name());
      if (!seen.add(name)) {
        report.error("Duplicate adapter source name found: " + name);
      }
    }
  }

  private static void validateToggles(Workspace old, Workspace workspace, ValidationReport spec) {
    if ((old.getInference() == null) != (workspace.getInference() == null)) {
      spec.error("Inference field cannot be toggled once set", "inference");
    }
    if ((old.getTuning() == null) != (workspace.getTuning() == null)) {
      spec.error("Tuning field cannot be toggled once set", "tuning");
    }
  }

  private void validateResourceUpdate(
      ResourceSpec old, ResourceSpec updated, ValidationReport report) {
    if (updated.count() != null && old.count() != null && !updated.count().equals(old.count())) {
      report.error("field is immutable", "count");
    }
    if (!Objects.equals(updated.partition(), old.partition())) {
      report.error("field is immutable", "partition");
    }
    String oldType = nullToEmpty(old.instanceType());
    String newType = nullToEmpty(updated.instanceType());
    if (!options.nodeAutoProvisioning()) {
      if (oldType.isEmpty()) {
        if (!newType.isEmpty()) {
          report.invalidValue(
              "instanceType must be empty when node auto-provisioning is disabled (BYO scenario)",
              "instanceType");
        }
      } else if (!newType.isEmpty() && !oldType.equals(newType)) {
        report.invalidValue("instanceType cannot be changed once set", "instanceType");
      }
    } else if (newType.isEmpty()) {
      report.missingField(
          "instanceType is required when node auto-provisioning is enabled", "instanceType");
    } else if (!oldType.isEmpty() && !oldType.equals(newType)) {
      report.error(
          "instanceType cannot be changed once set when node auto-provisioning is enabled",
          "instanceType");
    }
    Optional<Map<String, String>> newLabels = labelSelectorAsMap(updated.labelSelector());
    Optional<Map<String, String>> oldLabels = labelSelectorAsMap(old.labelSelector());
    if (newLabels.isEmpty() || oldLabels.isEmpty()) {
      report.error("Only allow matchLabels or 'IN' matchExpression", "labelSelector");
    } else if (!newLabels.get().equals(oldLabels.get())) {
      report.error("field is immutable", "labelSelector");
    }
  }

  private void validateInferenceUpdate(
      InferenceSpec old, InferenceSpec updated, ValidationReport report) {
    if (!Objects.equals(updated.preset(), old.preset())) {
      report.error("field is immutable", "preset");
    }
    if ((updated.template() == null) != (old.template() == null)) {
      report.error("field cannot be unset/set if it was set/unset", "template");
    }
    validateAdapters(updated.adaptersOrEmpty(), report);
  }

  /** At most 10 adapters, each well-formed, names unique; on create and on update. */
  private static void validateAdapters(List<AdapterSpec> adapters, ValidationReport report) {
    if (adapters.size() > InferenceSpec.MAX_ADAPTERS) {
      report.error(
          "Number of Adapters exceeds the maximum limit, maximum of "
              + InferenceSpec.MAX_ADAPTERS
              + " allowed");
    }
    for (AdapterSpec adapter : adapters) {
      validateAdapter(adapter, report);
    }
    validateDuplicateAdapterNames(adapters, report);
  }

  private void validateTuningUpdate(TuningSpec old, TuningSpec updated, ValidationReport report) {
    if (updated.input() == null) {
      report.missingField("Input");
    } else {
      ValidationReport input = report.via("Input");
      String oldName = old.input() == null ? null : old.input().name();
      if (!Objects.equals(nullToEmpty(oldName), nullToEmpty(updated.input().name()))) {
        input.invalidValue("During tuning Name field cannot be changed once set", "Name");
      }
      validateDataSource(updated.input(), input);
    }
    if (updated.output() == null) {
      report.missingField("Output");
    } else {
      validateDataDestination(updated.output(), report.via("Output"));
    }
    if (!Objects.equals(old.preset(), updated.preset())) {
      report.error("Preset cannot be changed", "Preset");
    }
    if (!old.normalizedMethod().equals(updated.normalizedMethod())) {
      report.error("Method cannot be changed", "Method");
    }
  }

  /** Why the selector cannot be used as plain labels (Kubernetes' {@code LabelSelectorAsMap}). */
  static Optional<String> labelSelectorProblem(LabelSelector selector) {
    if (selector == null || selector.getMatchExpressions() == null) {
      return Optional.empty();
    }
    for (LabelSelectorRequirement expression : selector.getMatchExpressions()) {
      String operator = nullToEmpty(expression.getOperator());
      switch (operator) {
        case "In" -> {
          if (expression.getValues() == null || expression.getValues().size() != 1) {
            return Optional.of(
                "operator "
                    + GoFloats.goQuote(operator)
                    + " without a single value cannot be converted into the old label selector"
                    + " format");
          }
        }
        case "NotIn", "Exists", "DoesNotExist" -> {
          return Optional.of(
              "operator "
                  + GoFloats.goQuote(operator)
                  + " cannot be converted into the old label selector format");
        }
        default -> {
          return Optional.of(GoFloats.goQuote(operator) + " is not a valid selector operator");
        }
      }
    }
    return Optional.empty();
  }

  /** The selector as plain labels, or empty when it cannot be expressed that way. */
  static Optional<Map<String, String>> labelSelectorAsMap(LabelSelector selector) {
    if (labelSelectorProblem(selector).isPresent()) {
      return Optional.empty();
    }
    Map<String, String> labels = new LinkedHashMap<>();
    if (selector != null) {
      if (selector.getMatchLabels() != null) {
        labels.putAll(selector.getMatchLabels());
      }
      if (selector.getMatchExpressions() != null) {
        for (LabelSelectorRequirement e : selector.getMatchExpressions()) {
          labels.put(e.getKey(), e.getValues().get(0));
        }
      }
    }
    return Optional.of(labels);
  }

  private static ResourceSpec resourceOf(Workspace workspace) {
    ResourceSpec resource = workspace.getResource();
    return resource == null ? new ResourceSpec(null, null, null, null, null) : resource;
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}
