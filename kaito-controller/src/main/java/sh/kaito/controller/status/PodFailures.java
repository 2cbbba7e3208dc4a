package sh.kaito.controller.status;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import sh.kaito.api.v1beta1.WorkspaceConditions.Reasons;

/**
 * Turns what pods report into a reason a user can act on, in upstream's priority order: OOM kill,
 * image pull, container start, crash loop, node pressure / eviction, unschedulable.
 */
public final class PodFailures {
  private PodFailures() {}

  static final Set<String> IMAGE_PULL =
      Set.of(
          "ImagePullBackOff",
          "ErrImagePull",
          "InvalidImageName",
          "ErrImageNeverPull",
          "ImageInspectError",
          "RegistryUnavailable");
  static final Set<String> START_ERRORS =
      Set.of(
          "CreateContainerConfigError",
          "CreateContainerError",
          "RunContainerError",
          "PreCreateHookError",
          "PreStartHookError",
          "PostStartHookError");

  public static Optional<Verdict> classify(List<Pod> pods) {
    List<Verdict> found = new ArrayList<>();
    for (Pod pod : pods) {
      classify(pod).ifPresent(found::add);
    }
    // The list is built per pod; pick the highest-priority reason over all pods.
    for (String reason : PRIORITY) {
      for (Verdict v : found) {
        if (v.reason().equals(reason)) {
          return Optional.of(v);
        }
      }
    }
    return Optional.empty();
  }

  private static final List<String> PRIORITY =
      List.of(
          Reasons.CONTAINER_OOM_KILLED,
          Reasons.IMAGE_PULL_ERROR,
          Reasons.CONTAINER_START_ERROR,
          Reasons.CONTAINER_CRASH_LOOP_BACK_OFF,
          Reasons.NODE_DISK_PRESSURE,
          Reasons.NODE_MEMORY_PRESSURE,
          Reasons.POD_EVICTED,
          Reasons.UNSCHEDULABLE);

  static Optional<Verdict> classify(Pod pod) {
    if (pod.getStatus() == null) {
      return Optional.empty();
    }
    String podName = pod.getMetadata().getName();
    List<ContainerStatus> statuses = new ArrayList<>();
    if (pod.getStatus().getInitContainerStatuses() != null) {
      statuses.addAll(pod.getStatus().getInitContainerStatuses());
    }
    if (pod.getStatus().getContainerStatuses() != null) {
      statuses.addAll(pod.getStatus().getContainerStatuses());
    }
    List<Verdict> found = new ArrayList<>();
    for (ContainerStatus cs : statuses) {
      String container = cs.getName();
      if (terminatedReason(cs).equals("OOMKilled")) {
        found.add(
            Verdict.notOk(
                Reasons.CONTAINER_OOM_KILLED,
                "container "
                    + container
                    + " of pod "
                    + podName
                    + " was killed for using too much memory (OOMKilled); choose an instance type"
                    + " with more memory or a smaller model"));
      }
      String waiting =
          cs.getState() != null && cs.getState().getWaiting() != null
              ? nullToEmpty(cs.getState().getWaiting().getReason())
              : "";
      String waitingMessage =
          cs.getState() != null && cs.getState().getWaiting() != null
              ? nullToEmpty(cs.getState().getWaiting().getMessage())
              : "";
      if (IMAGE_PULL.contains(waiting)) {
        found.add(
            Verdict.notOk(
                Reasons.IMAGE_PULL_ERROR,
                "cannot pull image "
                    + cs.getImage()
                    + " for container "
                    + container
                    + " of pod "
                    + podName
                    + " ("
                    + waiting
                    + suffix(waitingMessage)
                    + "); check the image name and the pull secret"));
      } else if (START_ERRORS.contains(waiting)) {
        found.add(
            Verdict.notOk(
                Reasons.CONTAINER_START_ERROR,
                "container "
                    + container
                    + " of pod "
                    + podName
                    + " cannot start ("
                    + waiting
                    + suffix(waitingMessage)
                    + "); check the Secrets and ConfigMaps it refers to"));
      } else if ("CrashLoopBackOff".equals(waiting)) {
        found.add(
            Verdict.notOk(
                Reasons.CONTAINER_CRASH_LOOP_BACK_OFF,
                "container "
                    + container
                    + " of pod "
                    + podName
                    + " keeps crashing (restarted "
                    + cs.getRestartCount()
                    + " times); see kubectl logs "
                    + podName
                    + " -c "
                    + container
                    + " --previous"));
      }
    }
    String podReason = nullToEmpty(pod.getStatus().getReason());
    String podMessage = nullToEmpty(pod.getStatus().getMessage());
    if ("Evicted".equals(podReason)) {
      String reason =
          podMessage.contains("DiskPressure") || podMessage.contains("ephemeral-storage")
              ? Reasons.NODE_DISK_PRESSURE
              : podMessage.contains("MemoryPressure") || podMessage.contains("memory")
                  ? Reasons.NODE_MEMORY_PRESSURE
                  : Reasons.POD_EVICTED;
      found.add(Verdict.notOk(reason, "pod " + podName + " was evicted: " + podMessage));
    }
    if (pod.getStatus().getConditions() != null) {
      for (PodCondition c : pod.getStatus().getConditions()) {
        if ("PodScheduled".equals(c.getType())
            && "False".equals(c.getStatus())
            && "Unschedulable".equals(c.getReason())) {
          found.add(
              Verdict.notOk(
                  Reasons.UNSCHEDULABLE,
                  "pod "
                      + podName
                      + " cannot be scheduled: "
                      + nullToEmpty(c.getMessage())
                      + "; check the workspace's labelSelector and the nodes' GPUs and taints"));
        }
      }
    }
    for (String reason : PRIORITY) {
      for (Verdict v : found) {
        if (v.reason().equals(reason)) {
          return Optional.of(v);
        }
      }
    }
    return Optional.empty();
  }

  private static String terminatedReason(ContainerStatus cs) {
    if (cs.getState() != null && cs.getState().getTerminated() != null) {
      return nullToEmpty(cs.getState().getTerminated().getReason());
    }
    if (cs.getLastState() != null && cs.getLastState().getTerminated() != null) {
      return nullToEmpty(cs.getLastState().getTerminated().getReason());
    }
    return "";
  }

  private static String suffix(String message) {
    return message.isEmpty() ? "" : ": " + message;
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}
