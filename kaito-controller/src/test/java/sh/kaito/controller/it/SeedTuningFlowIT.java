package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.controller.it.ControllerHarness.await;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.runtime.WorkspaceController;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The seed document's flow, literally: its YAML applied unchanged with kubectl (no webhook: the
 * placeholder output image is what upstream's webhook would refuse), a NodeClaim in upstream's
 * shape fulfilled by a kwok GPU node, the tuning Job completed by kwok, then the adapter served
 * behind the workspace's Service and {@code kubectl get workspace} showing three Trues.
 */
@WithControlPlane
class SeedTuningFlowIT {
  static final String NAME = "workspace-tuning-phi-3";
  static final Duration TIMEOUT = Duration.ofSeconds(90);

  @Test
  void seedYamlTunesThenServes(KubernetesClient client, ControlPlane cp) throws Exception {
    String ns = TestNamespaces.create(client, "seed");
    try (KwokNodeClaimFulfiller fulfiller = new KwokNodeClaimFulfiller(client, ns);
        WorkspaceController controller = ControllerHarness.start(client)) {
      ControllerHarness.applyExample(cp, ns, "fine-tuning/kaito_workspace_tuning_phi_3.yaml");

      NodeClaim claim =
          await(
                  "the NodeClaim",
                  TIMEOUT,
                  () ->
                      client
                          .resources(NodeClaim.class)
                          .withLabel(WorkspaceLabels.WORKSPACE_NAMESPACE, ns)
                          .list()
                          .getItems(),
                  l -> l.size() == 1)
              .get(0);
      assertThat(claim.getMetadata().getName()).matches("ws[0-9a-f]{9}");
      assertThat(claim.getMetadata().getLabels())
          .containsEntry("karpenter.sh/nodepool", "kaito")
          .containsEntry("kaito.sh/workspace", NAME)
          .containsEntry("kaito.sh/workspacenamespace", ns)
          .containsEntry("app", "tuning-phi-3");
      assertThat(claim.getMetadata().getAnnotations())
          .containsEntry("karpenter.sh/do-not-disrupt", "true")
          .containsEntry("kaito.sh/node-image-family", "ubuntu");
      assertThat(claim.getSpec().getTaints())
          .singleElement()
          .satisfies(
              t ->
                  assertThat(t.getKey() + "=" + t.getValue() + ":" + t.getEffect())
                      .isEqualTo("sku=gpu:NoSchedule"));
      assertThat(claim.getSpec().requirement("node.kubernetes.io/instance-type").getValues())
          .containsExactly("Standard_NC6s_v3");
      assertThat(claim.getSpec().getResources().getRequests().get("storage").toString())
          .isNotBlank();

      Job job =
          await(
              "the tuning Job",
              TIMEOUT,
              () -> client.batch().v1().jobs().inNamespace(ns).withName(NAME).get(),
              j -> true);
      var pod = job.getSpec().getTemplate().getSpec();
      assertThat(pod.getInitContainers())
          .extracting(Container::getName)
          .containsExactly("model-weights-downloader", "data-downloader");
      assertThat(pod.getInitContainers().get(0).getArgs())
          .containsExactly(
              "pull",
              "mcr.microsoft.com/aks/kaito/kaito-phi-3-mini-128k-instruct:0.1.0",
              "/workspace/weights",
              "--path",
              "/workspace/weights");
      assertThat(pod.getInitContainers().get(1).getArgs())
          .startsWith("fetch-data", "--to", "/mnt/data")
          .contains(
              "https://huggingface.co/datasets/philschmid/dolly-15k-oai-style/resolve/main/data/train-00000-of-00001-54e3756291ca09c6.parquet?download=true");
      assertThat(pod.getContainers())
          .extracting(Container::getName)
          .containsExactly(NAME, "pusher");
      assertThat(pod.getContainers().get(0).getCommand()).containsExactly("kaito-runtime");
      assertThat(pod.getContainers().get(0).getArgs())
          .startsWith("tune", "--preset", "phi-3-mini-128k-instruct", "--method", "qlora");
      assertThat(
              pod.getContainers()
                  .get(0)
                  .getResources()
                  .getLimits()
                  .get("nvidia.com/gpu")
                  .toString())
          .isEqualTo("1");
      assertThat(pod.getContainers().get(1).getArgs())
          .startsWith(
              "push-adapter", "/mnt/results", "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1");
      assertThat(pod.getVolumes())
          .extracting(Volume::getName)
          .contains(
              "dshm", "model-weights-volume", "data-volume", "results-volume", "docker-config");
      assertThat(pod.getContainers())
          .allSatisfy(
              c ->
                  assertThat(c.getImage())
                      .isEqualTo("mcr.microsoft.com/aks/kaito/kaito-runtime:0.1.0"));

      Workspace done =
          await(
              "JobStarted and WorkspaceSucceeded",
              TIMEOUT,
              () -> ControllerHarness.workspace(client, ns, NAME),
              w ->
                  w.getStatus() != null
                      && Conditions.isTrue(
                          w.getStatus().conditions(), WorkspaceConditions.JOB_STARTED)
                      && Conditions.isTrue(
                          w.getStatus().conditions(), WorkspaceConditions.WORKSPACE_SUCCEEDED));
      assertThat(done.getStatus().state()).isEqualTo("Succeeded");

      StatefulSet sts =
          await(
              "the serving StatefulSet",
              TIMEOUT,
              () -> client.apps().statefulSets().inNamespace(ns).withName(NAME).get(),
              s -> true);
      var servePod = sts.getSpec().getTemplate().getSpec();
      assertThat(servePod.getInitContainers())
          .extracting(Container::getName)
          .containsExactly("model-weights-downloader", "puller-" + NAME);
      assertThat(servePod.getInitContainers().get(1).getArgs())
          .startsWith(
              "pull", "ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1", "/mnt/adapter/" + NAME);
      assertThat(servePod.getContainers().get(0).getArgs())
          .startsWith("serve", "--preset", "phi-3-mini-128k-instruct")
          .contains("--adapter", NAME + "=/mnt/adapter/" + NAME);

      await(
          "RESOURCEREADY INFERENCEREADY WORKSPACEREADY True",
          TIMEOUT,
          () ->
              cp.kubectl("get", "workspace.v1alpha1.kaito.sh", NAME, "-n", ns, "--no-headers")
                  .stdout(),
          out -> out.trim().matches(NAME + "\\s+Standard_NC6s_v3\\s+True\\s+True\\s+True\\s+\\S+"));

      Service svc = client.services().inNamespace(ns).withName(NAME).get();
      assertThat(svc.getSpec().getPorts())
          .extracting(ServicePort::getPort)
          .containsExactly(80, 29500);
      assertThat(svc.getSpec().getType()).isEqualTo("ClusterIP");
      assertThat(
              client
                  .services()
                  .inNamespace(ns)
                  .withName(NAME + "-headless")
                  .get()
                  .getSpec()
                  .getClusterIP())
          .isEqualTo("None");
      assertThat(List.of(done.getMetadata().getAnnotations().get("workspace.kaito.io/revision")))
          .containsExactly("1");
    }
  }
}
