package sh.kaito.controller.status;

import static sh.kaito.api.v1beta1.WorkspaceConditions.*;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions.Reasons;
import sh.kaito.api.v1beta1.WorkspaceState;
import sh.kaito.api.v1beta1.WorkspaceStatus;
import sh.kaito.controller.provision.NodeReadiness;

/**
 * Level-triggered status: computed from what was observed, never from what the controller did
 * (contract §2.5). Pure; the reconciler writes the result only when it differs from the stored
 * status.
 */
public final class StatusCalculator {
  private StatusCalculator() {}

  public static WorkspaceStatus compute(Observed o, Clock clock) {
    Workspace ws = o.workspace();
    WorkspaceStatus previous = ws.getStatus() == null ? WorkspaceStatus.empty() : ws.getStatus();
    Writer w = new Writer(previous.conditionsOrEmpty(), ws, o.reconcileError(), clock);
    String state = previous.state() == null ? WorkspaceState.PENDING : previous.state();

    boolean resourceReady = false;
    NodeReadiness nodes = o.nodes();
    if (nodes != null) {
      if (nodes.nodeClaimReady() != null) {
        w.set(NODE_CLAIM_READY, nodes.nodeClaimReady());
      } else {
        w.remove(NODE_CLAIM_READY);
      }
      w.set(NODES_READY, nodes.nodesReady());
      if (nodes.ready()) {
        resourceReady = true;
        w.set(
            RESOURCE_READY,
            Verdict.ok(Reasons.RESOURCE_STATUS_SUCCESS, "workspace resource is ready"));
      } else {
        Verdict failing =
            nodes.nodeClaimReady() != null && !nodes.nodeClaimReady().ok()
                ? nodes.nodeClaimReady()
                : nodes.nodesReady();
        w.set(RESOURCE_READY, Verdict.notOk(failing.reason(), failing.message()));
      }
    } else {
      resourceReady = Conditions.isTrue(previous.conditionsOrEmpty(), RESOURCE_READY);
    }

    if (ws.hasTuning()) {
      state = tuning(o, w, resourceReady);
    } else if (ws.hasInference()) {
      state = inference(o, w, resourceReady, previous.state());
    }

    List<Condition> conditions =
        Conditions.mirror(w.conditions, WORKSPACE_SUCCEEDED, WORKSPACE_READY, clock);
    List<String> workers = nodes != null ? nodes.workerNodes() : previous.workerNodes();
    return new WorkspaceStatus(
        workers == null || workers.isEmpty() ? null : workers,
        conditions,
        state,
        o.targetNodeCount() != null ? o.targetNodeCount() : previous.targetNodeCount(),
        o.tuningProgress() != null ? o.tuningProgress() : previous.tuningProgress());
  }

  /** Status while the finalizer cleans up: only {@code WorkspaceDeleting} changes. */
  public static WorkspaceStatus deleting(Workspace ws, String message, Clock clock) {
    WorkspaceStatus previous = ws.getStatus() == null ? WorkspaceStatus.empty() : ws.getStatus();
    Writer w = new Writer(previous.conditionsOrEmpty(), ws, null, clock);
    w.set(WORKSPACE_DELETING, Verdict.ok(Reasons.WORKSPACE_DELETED, message));
    return previous.withConditions(w.conditions);
  }

  private static String tuning(Observed o, Writer w, boolean resourceReady) {
    Workspace ws = o.workspace();
    Job job = o.job();
    int succeeded =
        job == null ? 0 : count(job.getStatus() == null ? null : job.getStatus().getSucceeded());
    int failed =
        job == null ? 0 : count(job.getStatus() == null ? null : job.getStatus().getFailed());
    int active =
        job == null ? 0 : count(job.getStatus() == null ? null : job.getStatus().getActive());
    int ready =
        job == null ? 0 : count(job.getStatus() == null ? null : job.getStatus().getReady());
    List<Pod> jobPods = o.pods().stream().filter(p -> ownedByJob(p)).toList();
    Optional<Verdict> podFailure = PodFailures.classify(jobPods);

    String state;
    if (jobFailed(job, failed)) {
      // An OOM kill says more than the container's last log line; otherwise its own words.
      Optional<String> oom =
          podFailure
              .filter(v -> Reasons.CONTAINER_OOM_KILLED.equals(v.reason()))
              .map(Verdict::message);
      String why =
          oom.or(() -> TuningFailures.explain(job, jobPods, ws.getMetadata().getName()))
              .or(() -> podFailure.map(Verdict::message))
              .map(m -> ": " + m)
              .orElse("");
      w.set(
          JOB_STARTED, Verdict.notOk(Reasons.TUNING_JOB_STATUS_FAILED, "tuning job failed" + why));
      w.set(
          WORKSPACE_SUCCEEDED, Verdict.notOk(Reasons.WORKSPACE_FAILED, "tuning job failed" + why));
      state = WorkspaceState.FAILED;
    } else if (succeeded > 0 || ready > 0 || active > 0) {
      w.set(JOB_STARTED, Verdict.ok(Reasons.TUNING_JOB_STATUS_STARTED, "Tuning job has started"));
      if (succeeded > 0) {
        w.set(WORKSPACE_SUCCEEDED, Verdict.ok(Reasons.WORKSPACE_SUCCEEDED, "workspace succeeds"));
        state = WorkspaceState.SUCCEEDED;
      } else {
        w.set(
            WORKSPACE_SUCCEEDED,
            Verdict.notOk(
                Reasons.WORKSPACE_PENDING,
                podFailure
                    .map(Verdict::message)
                    .orElse("workspace has not completed yet, tuning job is running")));
        state = WorkspaceState.RUNNING;
      }
    } else {
      w.set(
          JOB_STARTED,
          podFailure.orElse(
              Verdict.notOk(Reasons.TUNING_JOB_STATUS_PENDING, "Tuning job has not started")));
      w.set(
          WORKSPACE_SUCCEEDED,
          Verdict.notOk(
              Reasons.WORKSPACE_PENDING, "workspace is initializing, tuning job has not started"));
      state = WorkspaceState.PENDING;
    }

    if (o.serveAfterTuning() && succeeded > 0) {
      w.set(INFERENCE_READY, inferenceVerdict(o, resourceReady));
    } else {
      w.remove(INFERENCE_READY);
    }
    return state;
  }

  private static boolean jobFailed(Job job, int failed) {
    if (job == null || job.getStatus() == null) {
      return false;
    }
    if (job.getStatus().getConditions() != null) {
      for (var c : job.getStatus().getConditions()) {
        if ("Failed".equals(c.getType()) && "True".equals(c.getStatus())) {
          return true;
        }
      }
    }
    return failed > 0
        && count(job.getStatus().getSucceeded()) == 0
        && count(job.getStatus().getActive()) == 0;
  }

  private static String inference(
      Observed o, Writer w, boolean resourceReady, String previousState) {
    Verdict verdict = inferenceVerdict(o, resourceReady);
    w.set(INFERENCE_READY, verdict);
    if (verdict.ok()) {
      w.set(WORKSPACE_SUCCEEDED, Verdict.ok(Reasons.WORKSPACE_SUCCEEDED, "workspace succeeds"));
      return WorkspaceState.READY;
    }
    w.set(
        WORKSPACE_SUCCEEDED,
        Verdict.notOk(
            Reasons.WORKSPACE_PENDING, "workspace is waiting for inference workload readiness"));
    return WorkspaceState.READY.equals(previousState)
            || WorkspaceState.NOT_READY.equals(previousState)
        ? WorkspaceState.NOT_READY
        : WorkspaceState.PENDING;
  }

  /** Ready when every replica of the StatefulSet is ready on ready nodes. */
  static Verdict inferenceVerdict(Observed o, boolean resourceReady) {
    StatefulSet sts = o.statefulSet();
    boolean ready =
        resourceReady
            && sts != null
            && sts.getSpec() != null
            && sts.getSpec().getReplicas() != null
            && sts.getSpec().getReplicas() > 0
            && sts.getStatus() != null
            && sts.getSpec().getReplicas().equals(sts.getStatus().getReadyReplicas())
            && sts.getSpec().getReplicas().equals(sts.getStatus().getUpdatedReplicas());
    if (ready) {
      return Verdict.ok(
          Reasons.INFERENCE_STATUS_SUCCESS, "Inference has been deployed successfully");
    }
    List<Pod> servingPods = o.pods().stream().filter(p -> !ownedByJob(p)).toList();
    return PodFailures.classify(servingPods)
        .orElse(Verdict.notOk(Reasons.INFERENCE_STATUS_PENDING, "Inference workload is not ready"));
  }

  private static boolean ownedByJob(Pod p) {
    return p.getMetadata().getOwnerReferences() != null
        && p.getMetadata().getOwnerReferences().stream().anyMatch(r -> "Job".equals(r.getKind()));
  }

  private static int count(Integer n) {
    return n == null ? 0 : n;
  }

  /** Sets conditions through {@link Conditions}, appending the reconcile error to messages. */
  private static final class Writer {
    List<Condition> conditions;
    final Long generation;
    final String suffix;
    final Clock clock;

    Writer(List<Condition> conditions, Workspace ws, String reconcileError, Clock clock) {
      this.conditions = conditions;
      this.generation = ws.getMetadata().getGeneration();
      this.suffix = reconcileError == null ? "" : " (last reconcile error: " + reconcileError + ")";
      this.clock = clock;
    }

    void set(String type, Verdict v) {
      conditions =
          Conditions.set(
              conditions, type, v.ok(), v.reason(), v.message() + suffix, generation, clock);
    }

    void remove(String type) {
      conditions = Conditions.remove(conditions, type);
    }
  }
}
