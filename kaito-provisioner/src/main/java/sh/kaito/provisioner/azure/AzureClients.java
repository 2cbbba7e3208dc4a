package sh.kaito.provisioner.azure;

import com.azure.core.credential.TokenCredential;
import com.azure.core.http.HttpClient;
import com.azure.core.http.jdk.httpclient.JdkHttpClientBuilder;
import com.azure.core.http.policy.ExponentialBackoffOptions;
import com.azure.core.http.policy.HttpLogDetailLevel;
import com.azure.core.http.policy.RetryOptions;
import com.azure.core.management.AzureEnvironment;
import com.azure.core.management.profile.AzureProfile;
import com.azure.core.util.Configuration;
import com.azure.identity.AadCredentialBuilderBase;
import com.azure.identity.ClientSecretCredentialBuilder;
import com.azure.identity.WorkloadIdentityCredentialBuilder;
import com.azure.resourcemanager.containerservice.ContainerServiceManager;
import com.azure.resourcemanager.containerservice.fluent.AgentPoolsClient;
import java.net.ProxySelector;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import javax.net.ssl.SSLContext;

/**
 * The Azure SDK pieces the agent-pool provider uses, built from an {@link AzureConfig}: one HTTP
 * client (the JDK's, through azure-core's adapter: no second netty beside fabric8's stack), one
 * credential (azure-identity), one ARM client for agent pools (azure-resourcemanager-
 * containerservice, whose pipeline retries 429 and 5xx honouring {@code Retry-After}).
 */
public final class AzureClients {
  private AzureClients() {}

  /**
   * ARM's retry rule: exponential backoff from {@code baseDelay}, at most {@code maxRetries} times;
   * a {@code Retry-After} (or {@code retry-after-ms}) header on a 429 or 5xx wins over the computed
   * delay.
   */
  public record Retry(int maxRetries, Duration baseDelay, Duration maxDelay) {
    /** azure-core's defaults: 3 retries, 0.8 s doubling, at most 8 s. */
    public static Retry defaults() {
      return new Retry(3, Duration.ofMillis(800), Duration.ofSeconds(8));
    }

    RetryOptions options() {
      return new RetryOptions(
          new ExponentialBackoffOptions()
              .setMaxRetries(maxRetries)
              .setBaseDelay(baseDelay)
              .setMaxDelay(maxDelay));
    }
  }

  /**
   * The HTTP client for ARM and Entra ID.
   *
   * @param tls whom to trust ({@link SSLContext#getDefault()} in production)
   * @param proxy consulted for every request ({@link ProxySelector#getDefault()} in production)
   * @param configuration azure-core's settings ({@link Configuration#getGlobalConfiguration()}
   *     reads {@code HTTPS_PROXY} and the like; tests pass an empty one)
   */
  public static HttpClient http(SSLContext tls, ProxySelector proxy, Configuration configuration) {
    return new JdkHttpClientBuilder(
            java.net.http.HttpClient.newBuilder().sslContext(tls).proxy(proxy))
        .configuration(configuration)
        .connectionTimeout(Duration.ofSeconds(10))
        .responseTimeout(Duration.ofSeconds(60))
        .build();
  }

  /**
   * Workload identity when {@code federatedTokenFile} is set (the projected service-account token
   * is read again on every token request, since the kubelet rotates it), else a client secret.
   */
  public static TokenCredential credential(
      AzureConfig config, HttpClient http, Retry retry, Configuration configuration) {
    if (config.federatedTokenFile() != null) {
      return common(new WorkloadIdentityCredentialBuilder(), config, http, retry, configuration)
          .tokenFilePath(config.federatedTokenFile())
          .build();
    }
    return common(new ClientSecretCredentialBuilder(), config, http, retry, configuration)
        .clientSecret(config.clientSecret())
        .build();
  }

  private static <T extends AadCredentialBuilderBase<T>> T common(
      T builder, AzureConfig config, HttpClient http, Retry retry, Configuration configuration) {
    // configuration() first: it resets the authority host to the one it holds.
    builder
        .configuration(configuration)
        .tenantId(config.tenantId())
        .clientId(config.clientId())
        .authorityHost(config.authorityHost().toString())
        .retryOptions(retry.options())
        .httpClient(http);
    return config.disableInstanceDiscovery() ? builder.disableInstanceDiscovery() : builder;
  }

  /** The agent pools of the configured subscription, through ARM at the configured endpoint. */
  public static AgentPoolsClient agentPools(
      AzureConfig config,
      TokenCredential credential,
      HttpClient http,
      Retry retry,
      Configuration configuration) {
    Map<String, String> endpoints = new HashMap<>(AzureEnvironment.AZURE.getEndpoints());
    endpoints.put("resourceManagerEndpointUrl", config.resourceManagerEndpoint().toString());
    endpoints.put("activeDirectoryEndpointUrl", config.authorityHost().toString());
    AzureProfile profile =
        new AzureProfile(
            config.tenantId(), config.subscriptionId(), new AzureEnvironment(endpoints));
    return ContainerServiceManager.configure()
        .withHttpClient(http)
        .withRetryOptions(retry.options())
        .withLogLevel(HttpLogDetailLevel.NONE)
        .withConfiguration(configuration)
        .authenticate(credential, profile)
        .serviceClient()
        .getAgentPools();
  }
}
