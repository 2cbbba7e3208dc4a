package sh.kaito.api.v1beta1;

import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds Workspaces in code, for services and tests:
 *
 * <pre>{@code
 * Workspace ws = new WorkspaceBuilder("workspace-phi-3")
 *     .namespace("default")
 *     .instanceType("Standard_NC24ads_A100_v4")
 *     .matchLabel("apps", "phi-3")
 *     .inferencePreset("phi-3-mini-128k-instruct")
 *     .adapter("phi-3-adapter", "myacr.azurecr.io/adapter:0.0.1", "1.0")
 *     .build();
 * }</pre>
 */
public final class WorkspaceBuilder {
  private final String name;
  private String namespace;
  private String apiVersion = Workspace.API_VERSION;
  private final Map<String, String> annotations = new LinkedHashMap<>();
  private final Map<String, String> labels = new LinkedHashMap<>();
  private final Map<String, String> matchLabels = new LinkedHashMap<>();
  private Integer count;
  private String instanceType;
  private PresetSpec inferencePreset;
  private PodTemplateSpec template;
  private String inferenceConfig;
  private final List<AdapterSpec> adapters = new ArrayList<>();
  private TuningSpec tuning;

  public WorkspaceBuilder(String name) {
    this.name = name;
  }

  /** Starts from an existing workspace's name, namespace, labels and annotations only. */
  public static WorkspaceBuilder named(String namespace, String name) {
    return new WorkspaceBuilder(name).namespace(namespace);
  }

  public WorkspaceBuilder namespace(String value) {
    this.namespace = value;
    return this;
  }

  /** Writes {@code kaito.sh/v1alpha1} instead of {@code kaito.sh/v1beta1}. */
  public WorkspaceBuilder alphaVersion() {
    this.apiVersion = Workspace.ALPHA_API_VERSION;
    return this;
  }

  public WorkspaceBuilder annotation(String key, String value) {
    annotations.put(key, value);
    return this;
  }

  public WorkspaceBuilder label(String key, String value) {
    labels.put(key, value);
    return this;
  }

  public WorkspaceBuilder count(Integer value) {
    this.count = value;
    return this;
  }

  public WorkspaceBuilder instanceType(String value) {
    this.instanceType = value;
    return this;
  }

  public WorkspaceBuilder matchLabel(String key, String value) {
    matchLabels.put(key, value);
    return this;
  }

  public WorkspaceBuilder inferencePreset(String presetName) {
    this.inferencePreset = PresetSpec.named(presetName);
    return this;
  }

  public WorkspaceBuilder inferencePreset(PresetSpec preset) {
    this.inferencePreset = preset;
    return this;
  }

  public WorkspaceBuilder template(PodTemplateSpec value) {
    this.template = value;
    return this;
  }

  public WorkspaceBuilder inferenceConfig(String configMapName) {
    this.inferenceConfig = configMapName;
    return this;
  }

  public WorkspaceBuilder adapter(String adapterName, String image, String strength) {
    adapters.add(AdapterSpec.fromImage(adapterName, image, strength));
    return this;
  }

  public WorkspaceBuilder adapter(AdapterSpec adapter) {
    adapters.add(adapter);
    return this;
  }

  /** Makes this a tuning workspace. */
  public WorkspaceBuilder tuning(
      String presetName, String method, DataSource input, DataDestination output) {
    this.tuning = new TuningSpec(PresetSpec.named(presetName), method, null, input, output);
    return this;
  }

  public WorkspaceBuilder tuning(TuningSpec value) {
    this.tuning = value;
    return this;
  }

  public Workspace build() {
    Workspace ws = new Workspace();
    ws.setApiVersion(apiVersion);
    ObjectMetaBuilder meta = new ObjectMetaBuilder().withName(name).withNamespace(namespace);
    if (!annotations.isEmpty()) {
      meta.withAnnotations(new LinkedHashMap<>(annotations));
    }
    if (!labels.isEmpty()) {
      meta.withLabels(new LinkedHashMap<>(labels));
    }
    ws.setMetadata(meta.build());
    ws.setResource(
        new ResourceSpec(
            count,
            instanceType,
            new LabelSelectorBuilder().withMatchLabels(new LinkedHashMap<>(matchLabels)).build(),
            null,
            null));
    if (inferencePreset != null
        || template != null
        || !adapters.isEmpty()
        || inferenceConfig != null) {
      ws.setInference(
          new InferenceSpec(
              inferencePreset,
              template,
              inferenceConfig,
              adapters.isEmpty() ? null : List.copyOf(adapters)));
    }
    ws.setTuning(tuning);
    return ws;
  }
}
