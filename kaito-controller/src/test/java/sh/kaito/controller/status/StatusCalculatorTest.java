package sh.kaito.controller.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceStatus;
import sh.kaito.controller.TestWorkspaces;
import sh.kaito.controller.provision.NodeReadiness;

class StatusCalculatorTest {
  static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);
  static final NodeReadiness READY =
      new NodeReadiness(
          Verdict.ok("NodeClaimsReady", "Enough NodeClaims are ready"),
          Verdict.ok("NodesReady", "Enough Nodes are ready"),
          List.of("node-a"),
          false);

  static Condition cond(WorkspaceStatus s, String type) {
    return Conditions.find(s.conditions(), type)
        .orElseThrow(() -> new AssertionError("no " + type));
  }

  static Job job(int active, int succeeded, int failed) {
    return new JobBuilder()
        .withNewStatus()
        .withActive(active)
        .withSucceeded(succeeded)
        .withFailed(failed)
        .endStatus()
        .build();
  }

  static StatefulSet sts(int replicas, int ready) {
    return new StatefulSetBuilder()
        .withNewSpec()
        .withReplicas(replicas)
        .endSpec()
        .withNewStatus()
        .withReplicas(replicas)
        .withReadyReplicas(ready)
        .withUpdatedReplicas(replicas)
        .endStatus()
        .build();
  }

  static Pod waitingPod(String reason) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("ws-0")
        .endMetadata()
        .withNewStatus()
        .addNewContainerStatus()
        .withName("main")
        .withImage("img")
        .withNewState()
        .withNewWaiting()
        .withReason(reason)
        .withMessage("boom")
        .endWaiting()
        .endState()
        .endContainerStatus()
        .endStatus()
        .build();
  }

  @Test
  void tuningJobRunningThenSucceededThenServing() {
    Workspace ws = TestWorkspaces.seedTuning();
    WorkspaceStatus pending =
        StatusCalculator.compute(
            new Observed(ws, READY, null, null, null, true, 1, null, null), CLOCK);
    assertThat(cond(pending, "JobStarted").getReason())
        .isEqualTo("WorkspaceTuningJobStatusPending");
    assertThat(pending.state()).isEqualTo("Pending");

    WorkspaceStatus running =
        StatusCalculator.compute(
            new Observed(ws, READY, job(1, 0, 0), null, null, true, 1, null, null), CLOCK);
    assertThat(cond(running, "JobStarted").getStatus()).isEqualTo("True");
    assertThat(cond(running, "WorkspaceSucceeded").getMessage())
        .isEqualTo("workspace has not completed yet, tuning job is running");
    assertThat(running.state()).isEqualTo("Running");
    assertThat(Conditions.find(running.conditions(), "InferenceReady")).isEmpty();

    WorkspaceStatus done =
        StatusCalculator.compute(
            new Observed(ws, READY, job(0, 1, 0), sts(1, 1), null, true, 1, null, null), CLOCK);
    assertThat(cond(done, "WorkspaceSucceeded").getReason()).isEqualTo("workspaceSucceeded");
    assertThat(cond(done, "WorkspaceReady").getStatus()).isEqualTo("True");
    assertThat(cond(done, "InferenceReady").getStatus()).isEqualTo("True");
    assertThat(cond(done, "ResourceReady").getStatus()).isEqualTo("True");
    assertThat(done.state()).isEqualTo("Succeeded");

    WorkspaceStatus notServing =
        StatusCalculator.compute(
            new Observed(ws, READY, job(0, 1, 0), null, null, false, 1, null, null), CLOCK);
    assertThat(Conditions.find(notServing.conditions(), "InferenceReady")).isEmpty();
  }

  @Test
  void tuningJobFailed() {
    Workspace ws = TestWorkspaces.seedTuning();
    Job failed =
        new JobBuilder()
            .withNewStatus()
            .withFailed(1)
            .addNewCondition()
            .withType("Failed")
            .withStatus("True")
            .endCondition()
            .endStatus()
            .build();
    WorkspaceStatus s =
        StatusCalculator.compute(
            new Observed(ws, READY, failed, null, null, true, 1, null, null), CLOCK);
    assertThat(cond(s, "JobStarted").getReason()).isEqualTo("WorkspaceTuningJobStatusFailed");
    assertThat(cond(s, "WorkspaceSucceeded").getReason()).isEqualTo("workspaceFailed");
    assertThat(cond(s, "WorkspaceReady").getReason()).isEqualTo("workspaceFailed");
    assertThat(s.state()).isEqualTo("Failed");
    assertThat(cond(s, "JobStarted").getMessage()).isEqualTo("tuning job failed");
  }

  static Pod jobPod(String created, String container, int exitCode, String message) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("ws-" + created)
        .withCreationTimestamp(created)
        .addNewOwnerReference()
        .withKind("Job")
        .withName("ws")
        .endOwnerReference()
        .endMetadata()
        .withNewStatus()
        .withPhase("Failed")
        .addNewContainerStatus()
        .withName("pusher")
        .withNewState()
        .withNewTerminated()
        .withExitCode(1)
        .withMessage("error: tune ended without fine_tuning_completed.txt")
        .endTerminated()
        .endState()
        .endContainerStatus()
        .addNewContainerStatus()
        .withName(container)
        .withNewState()
        .withNewTerminated()
        .withExitCode(exitCode)
        .withReason("Error")
        .withMessage(message)
        .endTerminated()
        .endState()
        .endContainerStatus()
        .endStatus()
        .build();
  }

  @Test
  void failedTuningShowsTheTuneContainersLastWordsFromTheNewestPod() {
    Workspace ws = TestWorkspaces.seedTuning();
    String tune = ws.getMetadata().getName();
    Job failed =
        new JobBuilder()
            .withNewStatus()
            .withFailed(2)
            .addNewCondition()
            .withType("Failed")
            .withStatus("True")
            .withReason("PodFailurePolicy")
            .withMessage("Container " + tune + " for pod ns/x failed with exit code 1")
            .endCondition()
            .endStatus()
            .build();
    List<Pod> pods =
        List.of(
            jobPod("2026-01-01T00:00:00Z", tune, 1, "error: old attempt"),
            jobPod(
                "2026-01-01T00:05:00Z",
                tune,
                1,
                "loading...\nerror: /mnt/data/train.jsonl row 3: unknown role 'bot'\n"));
    WorkspaceStatus s =
        StatusCalculator.compute(
            new Observed(ws, READY, failed, null, pods, true, 1, null, null), CLOCK);
    String expected =
        "tuning job failed: "
            + tune
            + " exited with code 1: error: /mnt/data/train.jsonl row 3: unknown role 'bot'";
    assertThat(cond(s, "JobStarted").getMessage()).isEqualTo(expected);
    assertThat(cond(s, "WorkspaceSucceeded").getMessage()).isEqualTo(expected);

    // No container said anything: the Job's own reason.
    WorkspaceStatus bare =
        StatusCalculator.compute(
            new Observed(ws, READY, failed, null, List.of(), true, 1, null, null), CLOCK);
    assertThat(cond(bare, "JobStarted").getMessage())
        .isEqualTo(
            "tuning job failed: Container " + tune + " for pod ns/x failed with exit code 1");
  }

  @Test
  void inferenceReadyAndNotReadyAgain() {
    Workspace ws = TestWorkspaces.phi3Inference(w -> w);
    WorkspaceStatus ready =
        StatusCalculator.compute(
            new Observed(ws, READY, null, sts(1, 1), null, false, 1, null, null), CLOCK);
    assertThat(cond(ready, "InferenceReady").getReason())
        .isEqualTo("WorkspaceInferenceStatusSuccess");
    assertThat(ready.state()).isEqualTo("Ready");
    assertThat(ready.workerNodes()).containsExactly("node-a");

    ws.setStatus(ready);
    WorkspaceStatus crashing =
        StatusCalculator.compute(
            new Observed(
                ws,
                READY,
                null,
                sts(1, 0),
                List.of(waitingPod("CrashLoopBackOff")),
                false,
                1,
                null,
                null),
            CLOCK);
    assertThat(cond(crashing, "InferenceReady").getReason()).isEqualTo("ContainerCrashLoopBackOff");
    assertThat(cond(crashing, "WorkspaceSucceeded").getReason()).isEqualTo("workspacePending");
    assertThat(cond(crashing, "WorkspaceReady").getStatus()).isEqualTo("False");
    assertThat(crashing.state()).isEqualTo("NotReady");
    // InferenceReady flipped: its transition time moved; ResourceReady did not flip.
    assertThat(cond(crashing, "ResourceReady").getLastTransitionTime())
        .isEqualTo(cond(ready, "ResourceReady").getLastTransitionTime());
  }

  @Test
  void podFailuresInPriorityOrder() {
    Pod oom =
        new PodBuilder()
            .withNewMetadata()
            .withName("p")
            .endMetadata()
            .withNewStatus()
            .addNewContainerStatus()
            .withName("c")
            .withNewLastState()
            .withNewTerminated()
            .withReason("OOMKilled")
            .endTerminated()
            .endLastState()
            .endContainerStatus()
            .endStatus()
            .build();
    Pod unschedulable =
        new PodBuilder()
            .withNewMetadata()
            .withName("q")
            .endMetadata()
            .withNewStatus()
            .addNewCondition()
            .withType("PodScheduled")
            .withStatus("False")
            .withReason("Unschedulable")
            .withMessage("0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
            .endCondition()
            .endStatus()
            .build();
    assertThat(
            PodFailures.classify(List.of(unschedulable, waitingPod("ImagePullBackOff"), oom))
                .orElseThrow()
                .reason())
        .isEqualTo("ContainerOOMKilled");
    assertThat(
            PodFailures.classify(List.of(unschedulable, waitingPod("ErrImagePull")))
                .orElseThrow()
                .reason())
        .isEqualTo("ImagePullError");
    Verdict u = PodFailures.classify(List.of(unschedulable)).orElseThrow();
    assertThat(u.reason()).isEqualTo("Unschedulable");
    assertThat(u.message()).contains("Insufficient nvidia.com/gpu");
    assertThat(
            PodFailures.classify(List.of(waitingPod("CreateContainerConfigError")))
                .orElseThrow()
                .reason())
        .isEqualTo("ContainerStartError");
    assertThat(PodFailures.classify(List.of(waitingPod("ContainerCreating")))).isEmpty();
  }

  @Test
  void nodeClaimLaunchErrorIsSurfaced() {
    Workspace ws = TestWorkspaces.phi3Inference(w -> w);
    NodeReadiness stuck =
        new NodeReadiness(
            Verdict.notOk(
                "LaunchFailed",
                "NodeClaim ws1 is not Launched: quota exceeded for Standard_NC24ads_A100_v4"),
            Verdict.notOk("NodeNotReady", "Not enough Nodes are ready"),
            List.of(),
            false);
    WorkspaceStatus s =
        StatusCalculator.compute(
            new Observed(ws, stuck, null, null, null, false, 1, null, null), CLOCK);
    assertThat(cond(s, "ResourceReady").getReason()).isEqualTo("LaunchFailed");
    assertThat(cond(s, "ResourceReady").getMessage()).contains("quota exceeded");
    assertThat(cond(s, "InferenceReady").getStatus()).isEqualTo("False");
    assertThat(s.targetNodeCount()).isEqualTo(1);
  }

  @Test
  void reconcileErrorIsAppendedAndBringYourOwnHasNoNodeClaimCondition() {
    Workspace ws = TestWorkspaces.phi3Inference(w -> w);
    NodeReadiness byo =
        new NodeReadiness(
            null, Verdict.ok("NodesReady", "Enough Nodes are ready"), List.of("n"), false);
    WorkspaceStatus s =
        StatusCalculator.compute(
            new Observed(ws, byo, null, null, null, false, 1, "boom", null), CLOCK);
    assertThat(Conditions.find(s.conditions(), "NodeClaimReady")).isEmpty();
    assertThat(cond(s, "WorkspaceSucceeded").getMessage())
        .endsWith(" (last reconcile error: boom)");
    assertThat(cond(s, "WorkspaceSucceeded").getObservedGeneration()).isEqualTo(1L);
  }

  @Test
  void tuningProgressReadNowReplacesTheLastOne() {
    Workspace ws = TestWorkspaces.seedTuning();
    var first = new sh.kaito.api.v1beta1.TuningProgress(10L, 100L, "0.1", "2.5", "800", 90L, "t1");
    WorkspaceStatus s1 =
        StatusCalculator.compute(
            new Observed(ws, READY, job(1, 0, 0), null, null, true, 1, null, first), CLOCK);
    assertThat(s1.tuningProgress()).isEqualTo(first);
    ws.setStatus(s1);
    WorkspaceStatus s2 =
        StatusCalculator.compute(
            new Observed(ws, READY, job(0, 1, 0), null, null, true, 1, null, null), CLOCK);
    assertThat(s2.tuningProgress()).as("kept when nothing new was read").isEqualTo(first);
  }

  @Test
  void deletingSetsOnlyTheDeletingCondition() {
    Workspace ws = TestWorkspaces.phi3Inference(w -> w);
    WorkspaceStatus s = StatusCalculator.deleting(ws, "workspace is being deleted", CLOCK);
    assertThat(s.conditions()).extracting(Condition::getType).containsExactly("WorkspaceDeleting");
    assertThat(cond(s, "WorkspaceDeleting").getReason()).isEqualTo("workspaceDeleted");
  }
}
