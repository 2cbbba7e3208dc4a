package sh.kaito.controller.runtime;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.v1beta1.Workspace;

/**
 * Kubernetes Events on a workspace ({@code kubectl describe workspace}). Sent from one background
 * thread with a bounded queue: an event is best effort and never slows or fails a reconcile.
 */
public interface EventRecorder {
  void normal(Workspace workspace, String reason, String message);

  void warning(Workspace workspace, String reason, String message);

  static EventRecorder none() {
    return new EventRecorder() {
      @Override
      public void normal(Workspace workspace, String reason, String message) {}

      @Override
      public void warning(Workspace workspace, String reason, String message) {}
    };
  }

  /** Posts core/v1 Events through the API server. */
  final class Kubernetes implements EventRecorder, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EventRecorder.class);
    private final KubernetesClient client;
    private final ThreadPoolExecutor executor =
        new ThreadPoolExecutor(
            1,
            1,
            0,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(1000),
            r -> {
              Thread t = new Thread(r, "kaito-events");
              t.setDaemon(true);
              return t;
            },
            new ThreadPoolExecutor.DiscardPolicy());

    public Kubernetes(KubernetesClient client) {
      this.client = client;
    }

    @Override
    public void normal(Workspace workspace, String reason, String message) {
      post(workspace, "Normal", reason, message);
    }

    @Override
    public void warning(Workspace workspace, String reason, String message) {
      post(workspace, "Warning", reason, message);
    }

    private void post(Workspace ws, String type, String reason, String message) {
      String ns = ws.getMetadata().getNamespace();
      String name = ws.getMetadata().getName();
      String uid = ws.getMetadata().getUid();
      executor.execute(
          () -> {
            String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
            try {
              client
                  .v1()
                  .events()
                  .inNamespace(ns)
                  .resource(
                      new EventBuilder()
                          .withNewMetadata()
                          .withName(name + "." + UUID.randomUUID().toString().substring(0, 13))
                          .withNamespace(ns)
                          .endMetadata()
                          .withInvolvedObject(
                              new ObjectReferenceBuilder()
                                  .withApiVersion(Workspace.API_VERSION)
                                  .withKind(Workspace.KIND)
                                  .withNamespace(ns)
                                  .withName(name)
                                  .withUid(uid)
                                  .build())
                          .withType(type)
                          .withReason(reason)
                          .withMessage(
                              message.length() > 1024 ? message.substring(0, 1024) : message)
                          .withFirstTimestamp(now)
                          .withLastTimestamp(now)
                          .withCount(1)
                          .withNewSource()
                          .withComponent("kaito-controller")
                          .endSource()
                          .build())
                  .create();
            } catch (RuntimeException e) {
              log.debug("event=EventDropped reason={} error={}", reason, e.getMessage());
            }
          });
    }

    @Override
    public void close() {
      executor.shutdownNow();
    }
  }
}
