package sh.kaito.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Starts a second, private control plane with hack/cluster/up, uses it, and checks that
 * hack/cluster/down leaves none of its processes behind.
 */
class ControlPlaneLifecycleIT {

  @Test
  void upStartsEveryComponentAndDownLeavesNoProcessBehind() {
    Path root = RepoRoot.find().orElseThrow();
    Path dir = RepoRoot.workingDir().resolve("target/kaito-controlplane-lifecycle");
    Map<String, Long> pids;
    try (ControlPlane controlPlane = ControlPlane.start(root, dir)) {
      pids = controlPlane.pids();
      assertThat(pids.keySet())
          .containsExactlyInAnyOrder(
              "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok");
      assertThat(pids.values()).allMatch(ControlPlaneLifecycleIT::alive);

      try (KubernetesClient client = controlPlane.newClient()) {
        VersionInfo version = client.getKubernetesVersion();
        assertThat(version.getMajor()).isEqualTo("1");
        assertThat(version.getGitVersion()).startsWith("v1." + version.getMinor() + ".");

        controlPlane.fakeNode("gpu-lifecycle", "--gpus", "4", "--taint");
        Node node = client.nodes().withName("gpu-lifecycle").get();
        assertThat(node.getStatus().getAllocatable().get(FakeNodes.GPU_RESOURCE).getAmount())
            .isEqualTo("4");
        assertThat(node.getSpec().getTaints())
            .anySatisfy(
                t -> {
                  assertThat(t.getKey()).isEqualTo("sku");
                  assertThat(t.getValue()).isEqualTo("gpu");
                  assertThat(t.getEffect()).isEqualTo("NoSchedule");
                });
        assertThat(FakeNodes.ready(node)).isTrue();
      }
    }
    assertThat(pids.values()).noneMatch(ControlPlaneLifecycleIT::alive);
  }

  /**
   * True while the process runs. A process that has exited but that init has not reaped yet (a
   * zombie, state Z) is not running: ProcessHandle.isAlive would still say true for it.
   */
  private static boolean alive(long pid) {
    Path stat = Path.of("/proc", Long.toString(pid), "stat");
    String text;
    try {
      text = Files.readString(stat);
    } catch (IOException e) {
      return false; // no such process
    }
    // Format: "pid (comm) S ...": the state follows the last ')'.
    char state = text.charAt(text.lastIndexOf(')') + 2);
    return state != 'Z' && state != 'X';
  }
}
