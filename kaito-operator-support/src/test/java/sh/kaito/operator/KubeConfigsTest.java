package sh.kaito.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.utils.TokenRefreshInterceptor;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KubeConfigsTest {

  private static String kubeconfig(String user) {
    return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: c
          cluster: {server: "https://127.0.0.1:6443"}
        contexts:
        - name: ctx
          context: {cluster: c, user: u}
        current-context: ctx
        users:
        - name: u
          user: %s
        """
        .formatted(user);
  }

  /** Runs fabric8's interceptor as on a request made more than a minute after the last refresh. */
  private static Map<String, String> headersOfARequestLater(Config config) {
    Map<String, String> headers = new LinkedHashMap<>();
    BasicBuilder recorder =
        new BasicBuilder() {
          @Override
          public BasicBuilder uri(URI uri) {
            return this;
          }

          @Override
          public BasicBuilder header(String name, String value) {
            headers.put(name, value);
            return this;
          }

          @Override
          public BasicBuilder setHeader(String name, String value) {
            headers.put(name, value);
            return this;
          }
        };
    new TokenRefreshInterceptor(
            config, Instant.EPOCH, c -> CompletableFuture.completedFuture((String) null))
        .before(recorder, null, null);
    return headers;
  }

  private final String previousKubeconfig = System.getProperty(Config.KUBERNETES_KUBECONFIG_FILE);

  /** fabric8 finds (and re-finds, on refresh) the kubeconfig through this property. */
  private Config autoConfigured(Path file) {
    System.setProperty(Config.KUBERNETES_KUBECONFIG_FILE, file.toString());
    return Config.autoConfigure(null);
  }

  @AfterEach
  void restoreKubeconfigProperty() {
    if (previousKubeconfig == null) {
      System.clearProperty(Config.KUBERNETES_KUBECONFIG_FILE);
    } else {
      System.setProperty(Config.KUBERNETES_KUBECONFIG_FILE, previousKubeconfig);
    }
  }

  @Test
  void aCertificateOnlyConfigIsNotReReadOnEveryRequest(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("kubeconfig");
    Files.writeString(
        file, kubeconfig("{client-certificate-data: Y2VydA==, client-key-data: a2V5}"));
    Config plain = autoConfigured(file);
    Config ours = KubeConfigs.withoutCertificateOnlyRefresh(autoConfigured(file));

    // If the interceptor re-read the file, it would now find this token and send it.
    Files.writeString(file, kubeconfig("{token: read-again}"));

    assertThat(headersOfARequestLater(plain))
        .as("fabric8 alone re-reads the kubeconfig (the behaviour we work around)")
        .containsEntry("Authorization", "Bearer read-again");
    assertThat(headersOfARequestLater(ours)).doesNotContainKey("Authorization");
    assertThat(ours.getClientCertData()).isEqualTo("Y2VydA==");
  }

  @Test
  void aTokenConfigKeepsItsRefresh(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("kubeconfig");
    Files.writeString(file, kubeconfig("{token: first}"));
    Config ours = KubeConfigs.withoutCertificateOnlyRefresh(autoConfigured(file));
    assertThat(ours.getOauthTokenProvider()).isNull();

    Files.writeString(file, kubeconfig("{token: rotated}"));
    assertThat(headersOfARequestLater(ours)).containsEntry("Authorization", "Bearer rotated");
  }
}
