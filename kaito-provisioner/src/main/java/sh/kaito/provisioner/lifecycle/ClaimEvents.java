package sh.kaito.provisioner.lifecycle;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.karpenter.NodeClaim;

/**
 * Kubernetes Events about a NodeClaim ({@code kubectl describe nodeclaim}, {@code kubectl get
 * events}). NodeClaims are cluster-scoped, so, as client-go's recorder does, the Events go to
 * namespace {@code default}. Posted by one background thread from a bounded queue: best effort,
 * never slowing or failing a reconcile.
 */
final class ClaimEvents implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ClaimEvents.class);
  static final String NAMESPACE = "default";
  static final String COMPONENT = "kaito-provisioner";

  private final KubernetesClient client;
  private final ThreadPoolExecutor sender =
      new ThreadPoolExecutor(
          1,
          1,
          0,
          TimeUnit.SECONDS,
          new ArrayBlockingQueue<>(500),
          r -> {
            Thread t = new Thread(r, "provisioner-events");
            t.setDaemon(true);
            return t;
          },
          new ThreadPoolExecutor.DiscardOldestPolicy());

  ClaimEvents(KubernetesClient client) {
    this.client = client;
  }

  void normal(NodeClaim claim, String reason, String message) {
    post(claim, "Normal", reason, message);
  }

  void warning(NodeClaim claim, String reason, String message) {
    post(claim, "Warning", reason, message);
  }

  private void post(NodeClaim claim, String type, String reason, String message) {
    String name = claim.getMetadata().getName();
    String uid = claim.getMetadata().getUid();
    String text = message == null || message.isEmpty() ? reason : message;
    sender.execute(
        () -> {
          String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
          var event =
              new EventBuilder()
                  .withNewMetadata()
                  .withGenerateName(name + ".")
                  .withNamespace(NAMESPACE)
                  .endMetadata()
                  .withNewInvolvedObject()
                  .withApiVersion(NodeClaim.API_VERSION)
                  .withKind("NodeClaim")
                  .withName(name)
                  .withUid(uid)
                  .endInvolvedObject()
                  .withType(type)
                  .withReason(reason)
                  .withMessage(text.length() > 1024 ? text.substring(0, 1024) : text)
                  .withFirstTimestamp(now)
                  .withLastTimestamp(now)
                  .withCount(1)
                  .withNewSource(COMPONENT, null)
                  .build();
          try {
            client.v1().events().inNamespace(NAMESPACE).resource(event).create();
          } catch (RuntimeException e) {
            log.debug("event=EventDropped nodeclaim={} reason={} error=\"{}\"", name, reason, e);
          }
        });
  }

  @Override
  public void close() {
    sender.shutdownNow();
  }
}
