package sh.kaito.controller;

import java.nio.file.Path;
import java.util.function.UnaryOperator;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.yaml.KaitoYaml;

/** Workspaces for tests: the project's examples, with overrides. */
public final class TestWorkspaces {
  private TestWorkspaces() {}

  public static Workspace example(String relative, UnaryOperator<Workspace> change) {
    Workspace ws =
        KaitoYaml.readWorkspace(Path.of("..", "examples", relative).toAbsolutePath().normalize());
    ws.getMetadata().setNamespace("default");
    ws.getMetadata().setUid("00000000-0000-0000-0000-000000000001");
    ws.getMetadata().setGeneration(1L);
    return change.apply(ws);
  }

  /** The seed document's tuning workspace. */
  public static Workspace seedTuning() {
    return example("fine-tuning/kaito_workspace_tuning_phi_3.yaml", w -> w);
  }

  /**
   * The seed's tuning workspace with another method and config, and an output image the webhook
   * accepts (the seed's is a placeholder).
   */
  public static Workspace tuning(String method, String config) {
    Workspace ws = seedTuning();
    var t = ws.getTuning();
    ws.setTuning(
        new sh.kaito.api.v1beta1.TuningSpec(
            t.preset(),
            method,
            config,
            t.input(),
            sh.kaito.api.v1beta1.DataDestination.ofImage(
                "myacr.azurecr.io/adapter:0.0.1", "push-secret")));
    return ws;
  }

  /**
   * The workspace as a user would create it in {@code namespace} through the v1beta1 client: no uid
   * or generation yet.
   */
  public static Workspace toCreate(Workspace ws, String namespace, String name) {
    ws.setApiVersion("kaito.sh/v1beta1");
    ws.getMetadata().setName(name);
    ws.getMetadata().setNamespace(namespace);
    ws.getMetadata().setUid(null);
    ws.getMetadata().setGeneration(null);
    return ws;
  }

  public static Workspace phi3Inference(UnaryOperator<Workspace> change) {
    return example("inference/kaito_workspace_phi_3_mini_128k.yaml", change);
  }

  /** {@code inference.template}: the user's own model server instead of a preset. */
  public static Workspace customTemplate(UnaryOperator<Workspace> change) {
    return example("inference/kaito_workspace_custom_template.yaml", change);
  }

  public static Workspace phi3WithAdapters() {
    return example("inference/kaito_workspace_phi_3_with_adapters.yaml", w -> w);
  }
}
