package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.validation.ValidationOptions;
import sh.kaito.controller.TestWorkspaces;
import sh.kaito.controller.tuning.TrainingConfigMaps;
import sh.kaito.controller.webhook.AdmissionServer;
import sh.kaito.controller.webhook.TlsMaterial;
import sh.kaito.controller.webhook.WebhookCertificates;
import sh.kaito.controller.webhook.WorkspaceAdmission;
import sh.kaito.presets.sizing.CatalogPresetChecks;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The admission webhook through the real API server: a self-issued certificate kept in a Secret,
 * its CA patched into the ValidatingWebhookConfiguration, invalid Workspaces refused with
 * upstream's messages on CREATE and UPDATE, a tuning workspace's training-config ConfigMap read
 * from the cluster and checked.
 */
@WithControlPlane
class AdmissionWebhookIT {
  static final String PREFIX =
      "admission webhook \"validation.workspace.kaito.sh\" denied the request: ";

  static Workspace tuning(String ns, String method, String config) {
    return TestWorkspaces.toCreate(TestWorkspaces.tuning(method, config), ns, "tuning-" + method);
  }

  @Test
  void refusesInvalidWorkspacesWithUpstreamMessages(KubernetesClient client) throws Exception {
    String ns = TestNamespaces.create(client, "webhook");
    client
        .namespaces()
        .withName(ns)
        .edit(
            n -> {
              n.getMetadata().getLabels().put("kaito.sh/webhook-test", ns);
              return n;
            });
    TlsMaterial tls =
        WebhookCertificates.ensureSecret(
            client,
            ns,
            "workspace-webhook-cert",
            List.of("kaito-webhook." + ns + ".svc"),
            List.of("127.0.0.1"));
    assertThat(
            WebhookCertificates.ensureSecret(
                client,
                ns,
                "workspace-webhook-cert",
                List.of("kaito-webhook." + ns + ".svc"),
                List.of("127.0.0.1")))
        .as("a second replica reads the same certificate")
        .isEqualTo(tls);

    WorkspaceAdmission admission =
        new WorkspaceAdmission(
            ValidationOptions.defaults(),
            CatalogPresetChecks.azure(),
            labels -> List.of(),
            new TrainingConfigMaps(
                (n, name) -> client.configMaps().inNamespace(n).withName(name).get(), null));
    String configName = "kaito-validation-" + ns;
    try (AdmissionServer server = AdmissionServer.create("127.0.0.1", 0, tls, admission).start()) {
      ValidatingWebhookConfiguration vwc =
          new ValidatingWebhookConfigurationBuilder()
              .withNewMetadata()
              .withName(configName)
              .endMetadata()
              .addNewWebhook()
              .withName("validation.workspace.kaito.sh")
              .withNewClientConfig()
              .withUrl("https://127.0.0.1:" + server.port() + AdmissionServer.PATH)
              .endClientConfig()
              .addNewRule()
              .withApiGroups("kaito.sh")
              .withApiVersions("v1alpha1", "v1beta1")
              .withResources("workspaces")
              .withOperations("CREATE", "UPDATE")
              .endRule()
              .withNewNamespaceSelector()
              .addToMatchLabels("kaito.sh/webhook-test", ns)
              .endNamespaceSelector()
              .withFailurePolicy("Fail")
              .withSideEffects("None")
              .withAdmissionReviewVersions("v1")
              .withTimeoutSeconds(10)
              .endWebhook()
              .build();
      client.admissionRegistration().v1().validatingWebhookConfigurations().resource(vwc).create();
      try {
        WebhookCertificates.patchCaBundle(client, configName, tls);
        assertThat(
                client
                    .admissionRegistration()
                    .v1()
                    .validatingWebhookConfigurations()
                    .withName(configName)
                    .get()
                    .getWebhooks()
                    .get(0)
                    .getClientConfig()
                    .getCaBundle())
            .isEqualTo(tls.caBundle());

        Workspace tooSmall =
            TestWorkspaces.phi3Inference(
                w -> {
                  w.getMetadata().setName("phi-3-medium-on-v100");
                  w.getMetadata().setNamespace(ns);
                  w.getMetadata().setUid(null);
                  w.getMetadata().setGeneration(null);
                  w.setResource(w.getResource().withInstanceType("Standard_NC6s_v3"));
                  w.setInference(
                      new sh.kaito.api.v1beta1.InferenceSpec(
                          sh.kaito.api.v1beta1.PresetSpec.named("phi-3-medium-128k-instruct"),
                          null,
                          null,
                          null));
                  return w;
                });
        // The API server picks up a new webhook configuration within a moment: retry until refused.
        String refused =
            ControllerHarness.await(
                "the webhook refusing phi-3-medium on Standard_NC6s_v3",
                Duration.ofSeconds(30),
                () -> {
                  try {
                    client.resources(Workspace.class).inNamespace(ns).resource(tooSmall).create();
                    client
                        .resources(Workspace.class)
                        .inNamespace(ns)
                        .withName("phi-3-medium-on-v100")
                        .delete();
                    return null;
                  } catch (KubernetesClientException e) {
                    return e.getMessage();
                  }
                },
                m -> m.contains("denied the request"));
        assertThat(refused)
            .contains(PREFIX)
            .contains(
                "Insufficient total GPU memory: Instance type Standard_NC6s_v3 has a total of 16Gi,"
                    + " but preset phi-3-medium-128k-instruct requires at least 28Gi:"
                    + " resource.instanceType");

        Workspace valid =
            TestWorkspaces.phi3Inference(
                w -> {
                  w.getMetadata().setNamespace(ns);
                  w.getMetadata().setUid(null);
                  w.getMetadata().setGeneration(null);
                  return w;
                });
        client.resources(Workspace.class).inNamespace(ns).resource(valid).create();

        assertThatThrownBy(
                () ->
                    client
                        .resources(Workspace.class)
                        .inNamespace(ns)
                        .withName(valid.getMetadata().getName())
                        .edit(
                            w -> {
                              w.setResource(
                                  w.getResource().withInstanceType("Standard_NC48ads_A100_v4"));
                              return w;
                            }))
            .isInstanceOf(KubernetesClientException.class)
            .hasMessageContaining(PREFIX)
            .hasMessageContaining(
                "instanceType cannot be changed once set when node auto-provisioning is enabled");

        Workspace badName =
            TestWorkspaces.phi3Inference(
                w -> {
                  w.getMetadata().setNamespace(ns);
                  w.getMetadata().setName("a.b");
                  w.getMetadata().setUid(null);
                  w.getMetadata().setGeneration(null);
                  return w;
                });
        assertThatThrownBy(
                () -> client.resources(Workspace.class).inNamespace(ns).resource(badName).create())
            .hasMessageContaining(PREFIX)
            .hasMessageContaining(": name");

        // A tuning workspace's training config is read from the cluster and checked.
        client
            .configMaps()
            .inNamespace(ns)
            .resource(
                new ConfigMapBuilder()
                    .withNewMetadata()
                    .withName("four-bit")
                    .endMetadata()
                    .addToData(
                        "training_config.yaml",
                        "training_config:\n  QuantizationConfig:\n    load_in_4bit: true\n")
                    .build())
            .create();
        Workspace loraWithFourBit = tuning(ns, "lora", "four-bit");
        assertThatThrownBy(
                () ->
                    client
                        .resources(Workspace.class)
                        .inNamespace(ns)
                        .resource(loraWithFourBit)
                        .create())
            .hasMessageContaining(PREFIX)
            .hasMessageContaining(
                "Failed to evaluate validateConfigMap: For method 'lora', 'load_in_4bit' or"
                    + " 'load_in_8bit' in ConfigMap 'four-bit' must not be true:"
                    + " QuantizationConfig: tuning.Config");
        client
            .resources(Workspace.class)
            .inNamespace(ns)
            .resource(tuning(ns, "qlora", "four-bit"))
            .create();
      } finally {
        client
            .admissionRegistration()
            .v1()
            .validatingWebhookConfigurations()
            .withName(configName)
            .delete();
      }
    }
  }
}
