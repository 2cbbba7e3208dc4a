package sh.kaito.controller.progress;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.TuningProgress;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.controller.provision.ClusterView;

class TuningProgressPollerTest {

  static Pod runningJobPod() {
    return new PodBuilder()
        .withNewMetadata()
        .withName("ws-abc")
        .addNewOwnerReference()
        .withKind("Job")
        .withName("ws")
        .endOwnerReference()
        .endMetadata()
        .withNewStatus()
        .withPhase("Running")
        .withPodIP("10.0.0.1")
        .endStatus()
        .build();
  }

  /** Only pods are looked at. */
  static ClusterView podsOnly(List<Pod> pods) {
    return new ClusterView() {
      public Workspace workspace(String namespace, String name) {
        return null;
      }

      public List<Workspace> workspaces() {
        return List.of();
      }

      public List<NodeClaim> nodeClaims(Workspace workspace) {
        return List.of();
      }

      public Node node(String name) {
        return null;
      }

      public List<Node> nodes(Map<String, String> labels) {
        return List.of();
      }

      public Job job(String namespace, String name) {
        return null;
      }

      public StatefulSet statefulSet(String namespace, String name) {
        return null;
      }

      public Service service(String namespace, String name) {
        return null;
      }

      public List<Pod> pods(String namespace, String workspaceName) {
        return pods;
      }

      public List<ControllerRevision> revisions(String namespace, String workspaceName) {
        return List.of();
      }
    };
  }

  @Test
  void pollsOnItsOwnThreadAndQueuesTheWorkspaceOnlyWhenTheNumbersChange() throws Exception {
    AtomicLong step = new AtomicLong(1);
    AtomicReference<String> readOn = new AtomicReference<>();
    TuningProgressSource source =
        pod -> {
          readOn.set(Thread.currentThread().getName());
          return Optional.of(
              new TuningProgress(step.get(), 10L, null, null, null, null, "2026-01-01T00:00:00Z"));
        };
    LinkedBlockingQueue<String> queued = new LinkedBlockingQueue<>();
    try (TuningProgressPoller poller =
        new TuningProgressPoller(
            source, Duration.ofMillis(50), podsOnly(List.of(runningJobPod())), queued::add)) {
      poller.track("ns", "ws");
      poller.track("ns", "ws"); // once per workspace, however often the reconciler says so
      assertThat(queued.poll(5, TimeUnit.SECONDS)).isEqualTo("ns/ws");
      assertThat(poller.latest("ns", "ws").step()).isEqualTo(1L);
      assertThat(readOn.get()).isEqualTo("kaito-tuning-progress");
      // Same numbers for several intervals: no reconcile is asked for.
      assertThat(queued.poll(300, TimeUnit.MILLISECONDS)).isNull();
      step.set(2);
      assertThat(queued.poll(5, TimeUnit.SECONDS)).isEqualTo("ns/ws");
      assertThat(poller.latest("ns", "ws").step()).isEqualTo(2L);
      poller.untrack("ns", "ws");
      assertThat(poller.latest("ns", "ws")).isNull();
      step.set(3);
      assertThat(queued.poll(300, TimeUnit.MILLISECONDS)).isNull();
    }
  }

  @Test
  void offNeverPolls() {
    TuningProgressPoller off = TuningProgressPoller.off();
    off.track("ns", "ws");
    assertThat(off.latest("ns", "ws")).isNull();
    off.close();
  }
}
