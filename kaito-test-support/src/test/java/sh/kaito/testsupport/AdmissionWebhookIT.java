package sh.kaito.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponseBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The API server calls an admission webhook served by the test JVM on 127.0.0.1 over TLS, and
 * refuses what it denies with the webhook's message: the path the operator's own webhook takes.
 */
@WithControlPlane
class AdmissionWebhookIT {

  @Test
  void aDenyingWebhookOnLoopbackRefusesTheRequestWithItsMessage(
      ControlPlane controlPlane, KubernetesClient client) throws IOException {
    assumeTrue(controlPlane.owned(), "needs the CA of a control plane this JVM started");
    AtomicInteger reviews = new AtomicInteger();
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(LoopbackTls.serverContext(controlPlane)));
    server.createContext(
        "/validate",
        exchange -> {
          reviews.incrementAndGet();
          AdmissionReview review =
              client
                  .getKubernetesSerialization()
                  .unmarshal(exchange.getRequestBody(), AdmissionReview.class);
          ConfigMap object = (ConfigMap) review.getRequest().getObject();
          boolean forbidden = object.getData() != null && object.getData().containsKey("forbidden");
          review.setResponse(
              new AdmissionResponseBuilder()
                  .withUid(review.getRequest().getUid())
                  .withAllowed(!forbidden)
                  .withStatus(
                      forbidden
                          ? new StatusBuilder()
                              .withCode(403)
                              .withMessage("the key 'forbidden' is not allowed here")
                              .build()
                          : null)
                  .build());
          review.setRequest(null);
          byte[] body =
              client.getKubernetesSerialization().asJson(review).getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    server.start();
    String id = TestNamespaces.uniqueName("webhook");
    String ns = id + "-ns";
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(ns)
                .addToLabels("kaito.sh/webhook-test", id)
                .endMetadata()
                .build())
        .create();
    ValidatingWebhookConfiguration webhook =
        new ValidatingWebhookConfigurationBuilder()
            .withNewMetadata()
            .withName(id)
            .endMetadata()
            .addNewWebhook()
            .withName("deny-forbidden.test.kaito.sh")
            .withNewClientConfig()
            .withUrl("https://127.0.0.1:" + server.getAddress().getPort() + "/validate")
            .withCaBundle(LoopbackTls.caBundle(controlPlane))
            .endClientConfig()
            .addNewRule()
            .withApiGroups("")
            .withApiVersions("v1")
            .withOperations("CREATE")
            .withResources("configmaps")
            .endRule()
            .withNewNamespaceSelector()
            .addToMatchLabels("kaito.sh/webhook-test", id)
            .endNamespaceSelector()
            .withSideEffects("None")
            .withAdmissionReviewVersions("v1")
            .withFailurePolicy("Fail")
            .withTimeoutSeconds(5)
            .endWebhook()
            .build();
    try {
      client
          .admissionRegistration()
          .v1()
          .validatingWebhookConfigurations()
          .resource(webhook)
          .create();

      // The API server picks new webhook configurations up from its informer, a moment later.
      AtomicInteger attempt = new AtomicInteger();
      ControlPlaneSmokeIT.await(
          () -> {
            try {
              createConfigMap(client, ns, "probe-" + attempt.incrementAndGet(), "forbidden");
              return false;
            } catch (KubernetesClientException e) {
              return e.getMessage().contains("the key 'forbidden' is not allowed here");
            }
          },
          () -> "the webhook to refuse a ConfigMap; webhook calls so far: " + reviews.get());

      assertThatThrownBy(() -> createConfigMap(client, ns, "denied", "forbidden"))
          .isInstanceOfSatisfying(
              KubernetesClientException.class,
              e -> {
                assertThat(e.getCode()).isEqualTo(403);
                assertThat(e.getMessage())
                    .contains("deny-forbidden.test.kaito.sh")
                    .contains("the key 'forbidden' is not allowed here");
              });
      assertThat(client.configMaps().inNamespace(ns).withName("denied").get()).isNull();

      int before = reviews.get();
      createConfigMap(client, ns, "allowed", "fine");
      assertThat(client.configMaps().inNamespace(ns).withName("allowed").get()).isNotNull();
      assertThat(reviews.get()).isGreaterThan(before);
    } finally {
      client.admissionRegistration().v1().validatingWebhookConfigurations().withName(id).delete();
      server.stop(0);
    }
  }

  private static void createConfigMap(KubernetesClient client, String ns, String name, String key) {
    client
        .configMaps()
        .inNamespace(ns)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .addToData(key, "x")
                .build())
        .create();
  }
}
