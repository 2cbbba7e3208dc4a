package sh.kaito.controller.manifests;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceAnnotations;

/** The workspace's Services (contract §2.7): {@code <ws>} and {@code <ws>-headless}. */
public final class Services {
  private Services() {}

  public static String headlessName(Workspace workspace) {
    return workspace.getMetadata().getName() + "-headless";
  }

  /**
   * {@code <ws>}: {@code http} 80→5000 to the leader pod ({@code <ws>-0}); a tuning workspace also
   * exposes {@code torchrun} 29500, as the seed's {@code kubectl get svc} shows.
   */
  public static Service main(Workspace workspace) {
    String name = workspace.getMetadata().getName();
    Map<String, String> selector = Manifests.workspaceLabels(workspace);
    selector.put("statefulset.kubernetes.io/pod-name", name + "-0");
    List<ServicePort> ports = new ArrayList<>();
    ports.add(port("http", Manifests.SERVICE_HTTP_PORT, Manifests.RUNTIME_PORT));
    if (workspace.hasTuning()) {
      ports.add(port("torchrun", Manifests.TORCH_RENDEZVOUS_PORT, Manifests.TORCH_RENDEZVOUS_PORT));
    }
    boolean loadBalancer =
        "True".equals(workspace.annotations().get(WorkspaceAnnotations.ENABLE_LB));
    return new ServiceBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(workspace.getMetadata().getNamespace())
        .withLabels(Manifests.workspaceLabels(workspace))
        .withOwnerReferences(Manifests.ownerReference(workspace))
        .endMetadata()
        .withNewSpec()
        .withType(loadBalancer ? "LoadBalancer" : "ClusterIP")
        .withSelector(selector)
        .withPorts(ports)
        .withPublishNotReadyAddresses(true)
        .endSpec()
        .build();
  }

  /** {@code <ws>-headless}: stable pod DNS names for multi-node serving. */
  public static Service headless(Workspace workspace) {
    return new ServiceBuilder()
        .withNewMetadata()
        .withName(headlessName(workspace))
        .withNamespace(workspace.getMetadata().getNamespace())
        .withLabels(Manifests.workspaceLabels(workspace))
        .withOwnerReferences(Manifests.ownerReference(workspace))
        .endMetadata()
        .withNewSpec()
        .withClusterIP("None")
        .withSelector(Manifests.workspaceLabels(workspace))
        .withPublishNotReadyAddresses(true)
        .endSpec()
        .build();
  }

  private static ServicePort port(String name, int port, int target) {
    return new ServicePortBuilder()
        .withName(name)
        .withProtocol("TCP")
        .withPort(port)
        .withTargetPort(new IntOrString(target))
        .build();
  }
}
