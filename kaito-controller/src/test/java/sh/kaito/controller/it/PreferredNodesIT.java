package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import sh.kaito.api.v1beta1.ResourceSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.TestWorkspaces;
import sh.kaito.controller.runtime.WorkspaceController;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.FakeNodes;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * A workspace whose {@code preferredNodes} names a Ready GPU node that matches its {@code
 * labelSelector} runs there: no NodeClaim is created (nothing here would fulfil one), the node gets
 * the workspace's labels while it is used and loses them when the workspace is deleted.
 */
@WithControlPlane
class PreferredNodesIT {
  static final Duration TIMEOUT = Duration.ofSeconds(90);

  @Test
  void aPreferredNodeIsUsedAndNoNodeClaimIsCreated(KubernetesClient client, ControlPlane cp)
      throws Exception {
    String ns = TestNamespaces.create(client, "preferred");
    String tag = UUID.randomUUID().toString().substring(0, 8);
    String nodeName = "byo-" + tag;
    FakeNodes.create(client, FakeNodes.gpu(nodeName, 1).withTaint().withLabel("byo", tag));
    Workspace ws =
        TestWorkspaces.phi3Inference(
            w -> {
              ResourceSpec r = w.getResource();
              w.setResource(
                  new ResourceSpec(
                      r.count(),
                      r.instanceType(),
                      new LabelSelectorBuilder().addToMatchLabels("byo", tag).build(),
                      List.of(nodeName),
                      r.partition()));
              w.getMetadata().setNamespace(ns);
              return w;
            });
    String name = ws.getMetadata().getName();

    try (WorkspaceController controller = ControllerHarness.start(client)) {
      client.resources(Workspace.class).inNamespace(ns).resource(ws).create();

      Workspace ready = ControllerHarness.awaitInferenceReady(client, ns, name, TIMEOUT);

      assertThat(ready.getStatus().workerNodes()).containsExactly(nodeName);
      assertThat(ControllerHarness.nodeClaims(client, ns, name)).isEmpty();
      assertThat(client.nodes().withName(nodeName).get().getMetadata().getLabels())
          .containsEntry(WorkspaceLabels.WORKSPACE_NAME, name)
          .containsEntry(WorkspaceLabels.WORKSPACE_NAMESPACE, ns);

      ControllerHarness.deleteAndAwaitNothingLeft(client, cp, ns, name, TIMEOUT);
      ControllerHarness.await(
          "the node's workspace labels removed",
          TIMEOUT,
          () -> client.nodes().withName(nodeName).get(),
          n -> !n.getMetadata().getLabels().containsKey(WorkspaceLabels.WORKSPACE_NAME));
    } finally {
      client.nodes().withName(nodeName).delete();
    }
  }
}
