package sh.kaito.provisioner.azure;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where the agent pools live and who we are, read from the environment gpu-provisioner's chart sets
 * (contract §6; upstream {@code pkg/auth/config.go}) so the same Deployment values work.
 *
 * @param resourceManagerEndpoint ARM, from {@code ARM_CLOUD} (AzurePublicCloud, AzureChinaCloud,
 *     AzureUSGovernmentCloud) or {@code ARM_RESOURCE_MANAGER_ENDPOINT}
 * @param authorityHost Entra ID, from {@code AZURE_AUTHORITY_HOST} (set by the workload identity
 *     webhook) or the cloud's default
 * @param federatedTokenFile the projected service-account token ({@code
 *     AZURE_FEDERATED_TOKEN_FILE}, workload identity); null when a client secret is used
 * @param clientSecret {@code AZURE_CLIENT_SECRET}, only when there is no token file
 * @param disableInstanceDiscovery {@code AZURE_DISABLE_INSTANCE_DISCOVERY=true}: do not ask Entra
 *     ID's discovery endpoint about the authority (Azure Stack, private clouds, tests)
 */
public record AzureConfig(
    String subscriptionId,
    String resourceGroup,
    String clusterName,
    String location,
    String tenantId,
    String clientId,
    String federatedTokenFile,
    String clientSecret,
    URI resourceManagerEndpoint,
    URI authorityHost,
    boolean disableInstanceDiscovery) {

  /** ARM and Entra ID of the clouds {@code ARM_CLOUD} may name. */
  private static final Map<String, URI[]> CLOUDS =
      Map.of(
          "azurepubliccloud",
          new URI[] {
            URI.create("https://management.azure.com/"),
            URI.create("https://login.microsoftonline.com/")
          },
          "azurechinacloud",
          new URI[] {
            URI.create("https://management.chinacloudapi.cn/"),
            URI.create("https://login.chinacloudapi.cn/")
          },
          "azureusgovernmentcloud",
          new URI[] {
            URI.create("https://management.usgovcloudapi.net/"),
            URI.create("https://login.microsoftonline.us/")
          });

  @Override
  public String toString() {
    // Never print the secret.
    return "AzureConfig[subscription="
        + subscriptionId
        + ", resourceGroup="
        + resourceGroup
        + ", cluster="
        + clusterName
        + ", arm="
        + resourceManagerEndpoint
        + ", credential="
        + (federatedTokenFile != null ? "workload-identity" : "client-secret")
        + "]";
  }

  /**
   * Reads the configuration.
   *
   * @throws IllegalArgumentException naming every missing or malformed variable
   */
  public static AzureConfig fromEnvironment(Map<String, String> env) {
    List<String> problems = new ArrayList<>();
    String subscription = required(env, problems, "ARM_SUBSCRIPTION_ID");
    String group = required(env, problems, "ARM_RESOURCE_GROUP");
    String cluster = required(env, problems, "AZURE_CLUSTER_NAME");
    String tenant = first(env, "AZURE_TENANT_ID", "ARM_TENANT_ID");
    String client = first(env, "AZURE_CLIENT_ID", "ARM_CLIENT_ID");
    String tokenFile = first(env, "AZURE_FEDERATED_TOKEN_FILE");
    String secret =
        tokenFile == null ? first(env, "AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET") : null;
    if (tenant == null) {
      problems.add("AZURE_TENANT_ID is not set");
    }
    if (client == null) {
      problems.add("AZURE_CLIENT_ID is not set");
    }
    if (tokenFile == null && secret == null) {
      problems.add(
          "no credential: set AZURE_FEDERATED_TOKEN_FILE (workload identity) or"
              + " AZURE_CLIENT_SECRET");
    }
    String cloud = first(env, "ARM_CLOUD");
    URI[] endpoints =
        CLOUDS.get(cloud == null ? "azurepubliccloud" : cloud.toLowerCase(Locale.ROOT));
    if (endpoints == null) {
      problems.add("ARM_CLOUD " + cloud + " is not one of " + CLOUDS.keySet());
      endpoints = CLOUDS.get("azurepubliccloud");
    }
    URI arm = https(env, problems, "ARM_RESOURCE_MANAGER_ENDPOINT", endpoints[0]);
    URI authority = https(env, problems, "AZURE_AUTHORITY_HOST", endpoints[1]);
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(
          "--provider=azure needs gpu-provisioner's environment: " + String.join("; ", problems));
    }
    return new AzureConfig(
        subscription,
        group,
        cluster,
        first(env, "LOCATION"),
        tenant,
        client,
        tokenFile,
        secret,
        arm,
        authority,
        "true".equalsIgnoreCase(first(env, "AZURE_DISABLE_INSTANCE_DISCOVERY")));
  }

  private static String first(Map<String, String> env, String... names) {
    for (String n : names) {
      String v = env.get(n);
      if (v != null && !v.isBlank()) {
        return v.trim();
      }
    }
    return null;
  }

  private static String required(Map<String, String> env, List<String> problems, String name) {
    String v = first(env, name);
    if (v == null) {
      problems.add(name + " is not set");
    }
    return v;
  }

  /** The Azure SDK sends tokens only over https, so anything else is refused here, early. */
  private static URI https(Map<String, String> env, List<String> problems, String name, URI def) {
    String v = first(env, name);
    if (v == null) {
      return def;
    }
    try {
      URI u = URI.create(v.endsWith("/") ? v : v + "/");
      if (!"https".equals(u.getScheme()) || u.getHost() == null) {
        problems.add(name + " must be an https URL, got " + v);
        return def;
      }
      return u;
    } catch (IllegalArgumentException e) {
      problems.add(name + " is not a URL: " + v);
      return def;
    }
  }
}
