package sh.kaito.api;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import java.util.List;
import java.util.function.UnaryOperator;
import sh.kaito.api.v1beta1.AdapterSpec;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.DataSource;
import sh.kaito.api.v1beta1.InferenceSpec;
import sh.kaito.api.v1beta1.PresetSpec;
import sh.kaito.api.v1beta1.ResourceSpec;
import sh.kaito.api.v1beta1.TuningSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceBuilder;
import sh.kaito.api.yaml.KaitoYaml;

/** Valid workspaces to start tests from, with overrides. */
public final class TestWorkspaces {
  private TestWorkspaces() {}

  public static final String DATA_URL = "https://example.com/data/train.parquet";

  /** A valid inference workspace: phi-3-mini-128k-instruct on one A100 node. */
  public static Workspace inference() {
    return new WorkspaceBuilder("ws-inference")
        .namespace("default")
        .instanceType("Standard_NC24ads_A100_v4")
        .matchLabel("apps", "phi-3")
        .inferencePreset("phi-3-mini-128k-instruct")
        .build();
  }

  public static Workspace inference(UnaryOperator<Workspace> change) {
    return change.apply(inference());
  }

  /** A valid tuning workspace: qlora from a URL to a pushed image. */
  public static Workspace tuning() {
    return new WorkspaceBuilder("ws-tuning")
        .namespace("default")
        .instanceType("Standard_NC6s_v3")
        .matchLabel("app", "tuning-phi-3")
        .tuning(
            "phi-3-mini-128k-instruct",
            "qlora",
            DataSource.ofUrls(List.of(DATA_URL)),
            DataDestination.ofImage("myregistry.azurecr.io/adapter:0.0.1", "push-secret"))
        .build();
  }

  public static Workspace tuning(UnaryOperator<Workspace> change) {
    return change.apply(tuning());
  }

  /** A deep copy, so a test can change one side of an update. */
  public static Workspace copy(Workspace ws) {
    return KaitoYaml.parseWorkspace(KaitoYaml.write(ws));
  }

  // Small mutators, so table rows read as one line.

  public static Workspace withName(Workspace ws, String name) {
    ws.getMetadata().setName(name);
    return ws;
  }

  public static Workspace annotate(Workspace ws, String key, String value) {
    if (ws.getMetadata().getAnnotations() == null) {
      ws.getMetadata().setAnnotations(new java.util.LinkedHashMap<>());
    }
    ws.getMetadata().getAnnotations().put(key, value);
    return ws;
  }

  public static Workspace resource(Workspace ws, UnaryOperator<ResourceSpec> change) {
    ws.setResource(change.apply(ws.getResource()));
    return ws;
  }

  public static Workspace inferenceSpec(Workspace ws, UnaryOperator<InferenceSpec> change) {
    ws.setInference(change.apply(ws.getInference()));
    return ws;
  }

  public static Workspace tuningSpec(Workspace ws, UnaryOperator<TuningSpec> change) {
    ws.setTuning(change.apply(ws.getTuning()));
    return ws;
  }

  public static Workspace adapters(Workspace ws, AdapterSpec... adapters) {
    return inferenceSpec(ws, i -> i.withAdapters(List.of(adapters)));
  }

  public static Workspace inferencePreset(Workspace ws, String presetName) {
    return inferenceSpec(
        ws,
        i ->
            new InferenceSpec(
                PresetSpec.named(presetName), i.template(), i.config(), i.adapters()));
  }

  public static Workspace tuningPreset(Workspace ws, String presetName) {
    return tuningSpec(
        ws,
        t ->
            new TuningSpec(
                presetName == null ? null : PresetSpec.named(presetName),
                t.method(),
                t.config(),
                t.input(),
                t.output()));
  }

  public static Workspace method(Workspace ws, String method) {
    return tuningSpec(
        ws, t -> new TuningSpec(t.preset(), method, t.config(), t.input(), t.output()));
  }

  public static Workspace inputUrls(Workspace ws, String... urls) {
    return tuningSpec(ws, t -> t.withInput(DataSource.ofUrls(List.of(urls))));
  }

  public static AdapterSpec adapter(String name, String strength) {
    return AdapterSpec.fromImage(name, "myregistry.azurecr.io/adapters/" + name + ":1", strength);
  }

  public static Volume pvc(String claim) {
    return new VolumeBuilder()
        .withNewPersistentVolumeClaim()
        .withClaimName(claim)
        .endPersistentVolumeClaim()
        .build();
  }

  public static LabelSelector selector(String key, String value) {
    return new LabelSelectorBuilder().addToMatchLabels(key, value).build();
  }

  public static io.fabric8.kubernetes.api.model.PodTemplateSpec template() {
    return new PodTemplateSpecBuilder()
        .withNewSpec()
        .addNewContainer()
        .withName("server")
        .withImage("myregistry.azurecr.io/server:1")
        .endContainer()
        .endSpec()
        .build();
  }
}
