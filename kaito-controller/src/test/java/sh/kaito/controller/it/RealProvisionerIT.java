package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.runtime.WorkspaceController;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The Workspace controller with the real NodeClaim provisioner (kaito-provisioner's process, fake
 * GPU cloud) instead of the test fulfiller: the example inference workspace gets a NodeClaim, the
 * provisioner makes its kwok GPU node and reports it Ready, the workspace becomes InferenceReady on
 * that node; deleting the workspace removes the claim (through the provisioner's finalizer) and the
 * node.
 */
@WithControlPlane
class RealProvisionerIT {
  static final String NAME = "workspace-phi-3-mini";
  static final Duration TIMEOUT = Duration.ofSeconds(120);

  @Test
  void anInferenceWorkspaceRunsOnTheProvisionersNodeAndLeavesNothingBehind(
      KubernetesClient client, ControlPlane cp) throws Exception {
    String ns = TestNamespaces.create(client, "realprov");
    Path log = Files.createTempFile("kaito-provisioner-", ".log");
    try (ProvisionerProcess provisioner = ProvisionerProcess.start(cp.kubeconfig(), log);
        WorkspaceController controller = ControllerHarness.start(client)) {
      ControllerHarness.applyExample(cp, ns, "inference/kaito_workspace_phi_3_mini_128k.yaml");

      Workspace ready = ControllerHarness.awaitInferenceReady(client, ns, NAME, TIMEOUT);

      List<NodeClaim> claims = ControllerHarness.nodeClaims(client, ns, NAME);
      assertThat(claims).hasSize(1);
      NodeClaim claim = claims.get(0);
      // The provisioner's work: its finalizer, its node, its status.
      assertThat(claim.getMetadata().getFinalizers()).contains("karpenter.sh/termination");
      assertThat(claim.getStatus().getProviderID()).startsWith("kaito-fake://");
      String nodeName = claim.getStatus().getNodeName();
      assertThat(nodeName).isEqualTo("kaito-fake-" + claim.getMetadata().getName());
      assertThat(ready.getStatus().workerNodes()).containsExactly(nodeName);
      Node node = client.nodes().withName(nodeName).get();
      assertThat(node.getMetadata().getLabels())
          .containsEntry(WorkspaceLabels.WORKSPACE_NAME, NAME)
          .containsEntry(WorkspaceLabels.ACCELERATOR, "nvidia");

      ControllerHarness.deleteAndAwaitNothingLeft(client, cp, ns, NAME, TIMEOUT);
      ControllerHarness.await(
          "the provisioner's node gone",
          TIMEOUT,
          () -> client.nodes().withName(nodeName).get() == null,
          gone -> gone);
    } catch (AssertionError | RuntimeException e) {
      throw new AssertionError(e.getMessage() + "\nprovisioner log:\n" + Files.readString(log), e);
    } finally {
      Files.deleteIfExists(log);
    }
  }
}
