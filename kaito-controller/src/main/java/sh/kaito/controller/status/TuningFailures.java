package sh.kaito.controller.status;

import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Why a tuning Job failed, in the words of the container that failed: its termination message
 * ({@code kaito-runtime} writes one line to {@code /dev/termination-log}; the Job asks for the end
 * of the log when there is none). The newest pod is read first, the {@code tune} container before
 * the pusher and the init containers; without any, the Job's own reason (e.g. its backoff limit).
 */
final class TuningFailures {
  private TuningFailures() {}

  /** Longest message shown; a condition message is for a person, not a log. */
  static final int MAX_MESSAGE = 300;

  static Optional<String> explain(Job job, List<Pod> jobPods, String tuneContainer) {
    List<Pod> newestFirst = new ArrayList<>(jobPods);
    newestFirst.sort(
        Comparator.comparing(
                (Pod p) ->
                    p.getMetadata().getCreationTimestamp() == null
                        ? ""
                        : p.getMetadata().getCreationTimestamp())
            .reversed());
    for (Pod pod : newestFirst) {
      if (pod.getStatus() == null) {
        continue;
      }
      List<ContainerStatus> ordered = new ArrayList<>();
      List<ContainerStatus> main = orEmpty(pod.getStatus().getContainerStatuses());
      main.stream().filter(s -> tuneContainer.equals(s.getName())).forEach(ordered::add);
      main.stream().filter(s -> !tuneContainer.equals(s.getName())).forEach(ordered::add);
      ordered.addAll(orEmpty(pod.getStatus().getInitContainerStatuses()));
      for (ContainerStatus s : ordered) {
        ContainerStateTerminated t = terminated(s);
        if (t != null && t.getExitCode() != null && t.getExitCode() != 0) {
          String said = lastLine(t.getMessage());
          String reason = t.getReason() == null ? "" : " (" + t.getReason() + ")";
          return Optional.of(
              s.getName()
                  + " exited with code "
                  + t.getExitCode()
                  + (said.isEmpty() ? reason : ": " + said));
        }
      }
    }
    if (job != null && job.getStatus() != null && job.getStatus().getConditions() != null) {
      return job.getStatus().getConditions().stream()
          .filter(c -> "Failed".equals(c.getType()) && "True".equals(c.getStatus()))
          .map(c -> c.getMessage() == null ? c.getReason() : c.getMessage())
          .filter(m -> m != null && !m.isBlank())
          .findFirst();
    }
    return Optional.empty();
  }

  private static ContainerStateTerminated terminated(ContainerStatus s) {
    if (s.getState() != null && s.getState().getTerminated() != null) {
      return s.getState().getTerminated();
    }
    return s.getLastState() == null ? null : s.getLastState().getTerminated();
  }

  /** The last non-blank line (the error, when the message is the end of a log), shortened. */
  static String lastLine(String message) {
    if (message == null) {
      return "";
    }
    String[] lines = message.strip().split("\\R");
    String last = "";
    for (int i = lines.length - 1; i >= 0; i--) {
      if (!lines[i].isBlank()) {
        last = lines[i].strip();
        break;
      }
    }
    return last.length() <= MAX_MESSAGE ? last : last.substring(0, MAX_MESSAGE - 1) + "…";
  }

  private static <T> List<T> orEmpty(List<T> l) {
    return l == null ? List.of() : l;
  }
}
