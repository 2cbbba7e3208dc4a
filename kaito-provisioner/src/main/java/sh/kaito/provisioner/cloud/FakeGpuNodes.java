package sh.kaito.provisioner.cloud;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.presets.sku.GpuSku;
import sh.kaito.presets.sku.SkuTable;

/**
 * The Node a {@link FakeGpuCloudProvider} makes for a claim: a kwok-managed node that looks like an
 * AKS GPU node after the NVIDIA device plugin and GPU feature discovery ran. Pure functions.
 */
public final class FakeGpuNodes {
  private FakeGpuNodes() {}

  /** The annotation kwok selects its nodes by. */
  public static final String KWOK_ANNOTATION = "kwok.x-k8s.io/node";

  /** Which claim a fake node belongs to (garbage collection and the informer's key). */
  public static final String CLAIM_LABEL = "kaito.sh/nodeclaim";

  public static final String PROVIDER_ID_PREFIX = "kaito-fake://";

  private static final int MAX_NAME = 253;
  private static final long MIB = 1024L * 1024L;

  /** Azure VM sizes carry the vCPU count after the family letters: {@code Standard_NC24ads_...}. */
  private static final Pattern VCPUS = Pattern.compile("^Standard_[A-Za-z]+?(\\d+)");

  /** {@code kaito-fake-<claim>}: derived from the claim, so a second create finds the first. */
  public static String nodeName(String claimName) {
    String name = "kaito-fake-" + claimName;
    return name.length() <= MAX_NAME ? name : name.substring(0, MAX_NAME);
  }

  /**
   * The GPU SKU the claim asks for.
   *
   * @throws LaunchException {@code InstanceTypeMissing} or {@code InstanceTypeUnknown}
   */
  public static GpuSku sku(NodeClaim claim, SkuTable skus) throws LaunchException {
    String instanceType = ClaimLabels.requiredValue(claim, KarpenterConditions.INSTANCE_TYPE_LABEL);
    if (instanceType == null || instanceType.isBlank()) {
      throw LaunchException.permanent(
          "InstanceTypeMissing",
          "NodeClaim has no requirement \""
              + KarpenterConditions.INSTANCE_TYPE_LABEL
              + " In [<sku>]\"; set the workspace's resource.instanceType");
    }
    return skus.find(instanceType)
        .orElseThrow(
            () ->
                LaunchException.permanent(
                    "InstanceTypeUnknown",
                    "instance type "
                        + instanceType
                        + " is not a GPU SKU the fake provider knows ("
                        + skus.cloud()
                        + " table, "
                        + skus.names().size()
                        + " SKUs); use one of them, e.g. "
                        + skus.names().get(0)));
  }

  /** The node for this claim and SKU; {@code status.capacity} is accepted on create. */
  public static Node node(NodeClaim claim, GpuSku sku) {
    String claimName = claim.getMetadata().getName();
    String name = nodeName(claimName);
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("type", "kwok");
    labels.put("kubernetes.io/hostname", name);
    labels.put("kubernetes.io/os", "linux");
    labels.put("kubernetes.io/arch", "amd64");
    labels.putAll(gpuNodeLabels(claim, sku));

    List<Taint> taints = new ArrayList<>();
    if (claim.getSpec() != null && claim.getSpec().getTaints() != null) {
      taints.addAll(claim.getSpec().getTaints());
    }
    Map<String, Quantity> resources = resources(claim, sku);
    NodeBuilder node =
        new NodeBuilder()
            .withNewMetadata()
            .withName(name)
            .withLabels(labels)
            .addToAnnotations(KWOK_ANNOTATION, "fake")
            .addToAnnotations("node.alpha.kubernetes.io/ttl", "0")
            .endMetadata()
            .withNewSpec()
            .withProviderID(PROVIDER_ID_PREFIX + name)
            .withTaints(taints)
            .endSpec()
            .withNewStatus()
            .withCapacity(resources)
            .withAllocatable(resources)
            .endStatus();
    if (claim.getMetadata().getUid() != null) {
      // As Karpenter's registration does: the node goes when its claim goes, even without us.
      node.editMetadata()
          .addToOwnerReferences(
              new OwnerReferenceBuilder()
                  .withApiVersion(NodeClaim.API_VERSION)
                  .withKind("NodeClaim")
                  .withName(claimName)
                  .withUid(claim.getMetadata().getUid())
                  .withBlockOwnerDeletion(true)
                  .build())
          .endMetadata();
    }
    return node.build();
  }

  /**
   * The labels a GPU node made for this claim carries, whatever makes it (kwok or a real kubelet):
   * the claim's labels and requirements, the capacity and machine type, the instance type, GPU
   * feature discovery's {@code nvidia.com/gpu.*} labels and {@link #CLAIM_LABEL}.
   */
  public static Map<String, String> gpuNodeLabels(NodeClaim claim, GpuSku sku) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("karpenter.sh/capacity-type", "on-demand");
    labels.put("kaito.sh/machine-type", "gpu");
    labels.putAll(ClaimLabels.of(claim));
    labels.put(KarpenterConditions.INSTANCE_TYPE_LABEL, sku.name());
    labels.put(KarpenterConditions.AZURE_SKU_NAME_LABEL, sku.name());
    labels.put("accelerator", "nvidia");
    labels.put("nvidia.com/gpu.present", "true");
    labels.put("nvidia.com/gpu.product", gpuProduct(sku));
    labels.put("nvidia.com/gpu.count", Integer.toString(sku.gpuCount()));
    labels.put("nvidia.com/gpu.memory", Long.toString(sku.perGpuMemory().bytes() / MIB));
    labels.put(CLAIM_LABEL, claim.getMetadata().getName());
    return labels;
  }

  /**
   * Capacity of the fake machine. GPUs come from the SKU table. The table has no CPU or memory, so
   * vCPUs are read from the VM size name and memory is 8 GiB per vCPU (an approximation: enough for
   * the scheduler to place Kaito's pods, not a VM spec). Ephemeral storage is the claim's storage
   * request, which upstream turns into the OS disk.
   */
  static Map<String, Quantity> resources(NodeClaim claim, GpuSku sku) {
    Matcher m = VCPUS.matcher(sku.name());
    int vcpus = m.find() ? Math.max(1, Integer.parseInt(m.group(1))) : 8;
    Map<String, Quantity> r = new LinkedHashMap<>();
    r.put("cpu", new Quantity(Integer.toString(vcpus)));
    r.put("memory", new Quantity((vcpus * 8L) + "Gi"));
    r.put("pods", new Quantity("110"));
    Quantity storage =
        claim.getSpec() == null || claim.getSpec().getResources() == null
            ? null
            : claim.getSpec().getResources().getRequests().get("storage");
    r.put("ephemeral-storage", storage == null ? new Quantity("1024Gi") : storage);
    r.put(KarpenterConditions.GPU_RESOURCE, new Quantity(Integer.toString(sku.gpuCount())));
    return r;
  }

  /** GPU feature discovery's product label: the model with dashes, e.g. {@code NVIDIA-A100}. */
  static String gpuProduct(GpuSku sku) {
    String p = sku.gpuModel().trim().replaceAll("[^A-Za-z0-9_.-]+", "-");
    return p.length() <= 63 ? p : p.substring(0, 63);
  }

  /** What the provider reports for a node it made, or null when the node is not one of ours. */
  public static Instance instance(Node node) {
    Map<String, String> labels = node.getMetadata().getLabels();
    String claim = labels == null ? null : labels.get(CLAIM_LABEL);
    String providerID = node.getSpec() == null ? null : node.getSpec().getProviderID();
    if (claim == null || providerID == null || !providerID.startsWith(PROVIDER_ID_PREFIX)) {
      return null;
    }
    String created = node.getMetadata().getCreationTimestamp();
    return new Instance(
        claim,
        providerID,
        node.getMetadata().getName(),
        labels.get(KarpenterConditions.INSTANCE_TYPE_LABEL),
        node.getStatus() == null || node.getStatus().getCapacity() == null
            ? Map.of()
            : node.getStatus().getCapacity(),
        node.getStatus() == null || node.getStatus().getAllocatable() == null
            ? Map.of()
            : node.getStatus().getAllocatable(),
        created == null ? Instant.now() : Instant.parse(created),
        node.getMetadata().getDeletionTimestamp() != null);
  }
}
