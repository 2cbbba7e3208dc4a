package sh.kaito.provisioner.cloud;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.presets.sku.GpuSku;
import sh.kaito.presets.sku.SkuTable;

/**
 * A cloud without a cloud: each claim becomes a kwok-managed Node (see {@link FakeGpuNodes}), so
 * the whole Workspace flow runs on a local control plane. Only instance types in the SKU table are
 * served, with their GPU count, model and memory.
 */
public final class FakeGpuCloudProvider implements CloudProvider {
  private static final Logger log = LoggerFactory.getLogger(FakeGpuCloudProvider.class);

  private final KubernetesClient client;
  private final SkuTable skus;

  public FakeGpuCloudProvider(KubernetesClient client, SkuTable skus) {
    this.client = client;
    this.skus = skus;
  }

  @Override
  public String name() {
    return "fake";
  }

  @Override
  public Instance create(NodeClaim claim) throws LaunchException {
    GpuSku sku = FakeGpuNodes.sku(claim, skus);
    Node desired = FakeGpuNodes.node(claim, sku);
    String claimName = claim.getMetadata().getName();
    Node node;
    try {
      node = client.nodes().resource(desired).create();
      log.info(
          "event=FakeNodeCreated nodeclaim={} node={} instanceType={} gpus={}",
          claimName,
          node.getMetadata().getName(),
          sku.name(),
          sku.gpuCount());
    } catch (KubernetesClientException e) {
      if (e.getCode() == 422) {
        // The claim asked for something a Node cannot carry (e.g. a label value that is not a
        // valid label value); retrying cannot help.
        throw LaunchException.permanent(
            "NodeRejected",
            "the API server refused the node for this claim: "
                + (e.getStatus() != null ? e.getStatus().getMessage() : e.getMessage()));
      }
      if (e.getCode() != 409) {
        throw e;
      }
      node = client.nodes().withName(desired.getMetadata().getName()).get();
      if (node == null) {
        throw new IllegalStateException(
            "node " + desired.getMetadata().getName() + " existed and is gone; retry");
      }
    }
    Instance instance = FakeGpuNodes.instance(node);
    if (instance == null || !Objects.equals(claimName, instance.claimName())) {
      throw LaunchException.permanent(
          "NodeNameTaken",
          "node "
              + node.getMetadata().getName()
              + " exists and was not made for this NodeClaim; delete that node or the claim");
    }
    return instance;
  }

  @Override
  public Optional<Instance> get(NodeClaim claim) {
    Node node = client.nodes().withName(FakeGpuNodes.nodeName(claim.getMetadata().getName())).get();
    if (node == null) {
      return Optional.empty();
    }
    Instance instance = FakeGpuNodes.instance(node);
    return instance != null && claim.getMetadata().getName().equals(instance.claimName())
        ? Optional.of(instance)
        : Optional.empty();
  }

  @Override
  public void delete(NodeClaim claim) {
    Optional<Instance> instance = get(claim);
    if (instance.isEmpty() || instance.get().deleting()) {
      return;
    }
    client.nodes().withName(instance.get().nodeName()).delete();
    log.info(
        "event=FakeNodeDeleted nodeclaim={} node={}",
        claim.getMetadata().getName(),
        instance.get().nodeName());
  }

  @Override
  public List<Instance> list() {
    return client.nodes().withLabel(FakeGpuNodes.CLAIM_LABEL).list().getItems().stream()
        .map(FakeGpuNodes::instance)
        .filter(Objects::nonNull)
        .toList();
  }
}
