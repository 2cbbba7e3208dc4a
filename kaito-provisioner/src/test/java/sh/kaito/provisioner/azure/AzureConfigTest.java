package sh.kaito.provisioner.azure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AzureConfigTest {
  /** What gpu-provisioner's chart and the workload identity webhook put in the pod. */
  private static Map<String, String> chartEnv() {
    Map<String, String> env = new HashMap<>();
    env.put("ARM_SUBSCRIPTION_ID", "sub-1");
    env.put("ARM_RESOURCE_GROUP", "rg-1");
    env.put("AZURE_CLUSTER_NAME", "aks-1");
    env.put("LOCATION", "eastus");
    env.put("AZURE_TENANT_ID", "tenant-1");
    env.put("AZURE_CLIENT_ID", "client-1");
    env.put("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token");
    env.put("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/");
    return env;
  }

  @Test
  void gpuProvisionersEnvironmentConfiguresWorkloadIdentityOnThePublicCloud() {
    AzureConfig c = AzureConfig.fromEnvironment(chartEnv());

    assertThat(c.subscriptionId()).isEqualTo("sub-1");
    assertThat(c.resourceGroup()).isEqualTo("rg-1");
    assertThat(c.clusterName()).isEqualTo("aks-1");
    assertThat(c.location()).isEqualTo("eastus");
    assertThat(c.federatedTokenFile()).endsWith("azure-identity-token");
    assertThat(c.clientSecret()).isNull();
    assertThat(c.resourceManagerEndpoint()).isEqualTo(URI.create("https://management.azure.com/"));
    assertThat(c.disableInstanceDiscovery()).isFalse();
  }

  @Test
  void armCloudPicksTheSovereignEndpointsAndASecretIsNeverPrinted() {
    Map<String, String> env = chartEnv();
    env.remove("AZURE_FEDERATED_TOKEN_FILE");
    env.remove("AZURE_AUTHORITY_HOST");
    env.put("AZURE_CLIENT_SECRET", "s3cret");
    env.put("ARM_CLOUD", "AzureChinaCloud");

    AzureConfig c = AzureConfig.fromEnvironment(env);

    assertThat(c.resourceManagerEndpoint().toString())
        .isEqualTo("https://management.chinacloudapi.cn/");
    assertThat(c.authorityHost().toString()).isEqualTo("https://login.chinacloudapi.cn/");
    assertThat(c.clientSecret()).isEqualTo("s3cret");
    assertThat(c.toString()).doesNotContain("s3cret").contains("client-secret");
  }

  @Test
  void everyMissingOrUnsafeVariableIsNamedAtOnce() {
    Map<String, String> env = new HashMap<>();
    env.put("ARM_RESOURCE_MANAGER_ENDPOINT", "http://127.0.0.1:8080");

    assertThatThrownBy(() -> AzureConfig.fromEnvironment(env))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ARM_SUBSCRIPTION_ID is not set")
        .hasMessageContaining("ARM_RESOURCE_GROUP is not set")
        .hasMessageContaining("AZURE_CLUSTER_NAME is not set")
        .hasMessageContaining("AZURE_TENANT_ID is not set")
        .hasMessageContaining("AZURE_CLIENT_ID is not set")
        .hasMessageContaining("set AZURE_FEDERATED_TOKEN_FILE (workload identity) or")
        .hasMessageContaining("ARM_RESOURCE_MANAGER_ENDPOINT must be an https URL");
  }
}
