package sh.kaito.testsupport;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * Fake nodes that kwok manages: they become Ready, pods bound to them become Running and Job pods
 * complete. A GPU node shows what an AKS GPU node with the NVIDIA device plugin and GPU feature
 * discovery shows. The shell twin is {@code hack/cluster/fake-node}.
 *
 * <pre>{@code
 * Node gpu = FakeNodes.create(client, FakeNodes.gpu("gpu-0", 2).withTaint().withLabel("app", "x"));
 * }</pre>
 */
public final class FakeNodes {

  /** The annotation kwok selects its nodes by (see {@code hack/cluster/up}). */
  public static final String KWOK_ANNOTATION = "kwok.x-k8s.io/node";

  public static final String GPU_RESOURCE = "nvidia.com/gpu";
  public static final String INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type";

  private FakeNodes() {}

  /** A node without GPUs. */
  public static Spec cpu(String name) {
    return new Spec(name, 0, "Standard_D8s_v5", "", 0, false, Map.of(), "24", "220Gi");
  }

  /** A node with {@code gpus} NVIDIA A100 80GB GPUs (change with {@link Spec#withGpuProduct}). */
  public static Spec gpu(String name, int gpus) {
    return new Spec(
        name,
        gpus,
        "Standard_NC24ads_A100_v4",
        "NVIDIA-A100-80GB-PCIe",
        81920,
        false,
        Map.of(),
        "24",
        "220Gi");
  }

  /** What a fake node looks like. */
  public record Spec(
      String name,
      int gpus,
      String instanceType,
      String gpuProduct,
      int gpuMemoryMib,
      boolean skuGpuTaint,
      Map<String, String> labels,
      String cpu,
      String memory) {

    public Spec withInstanceType(String value) {
      return new Spec(
          name, gpus, value, gpuProduct, gpuMemoryMib, skuGpuTaint, labels, cpu, memory);
    }

    public Spec withGpuProduct(String product, int memoryMib) {
      return new Spec(
          name, gpus, instanceType, product, memoryMib, skuGpuTaint, labels, cpu, memory);
    }

    /** Adds the {@code sku=gpu:NoSchedule} taint Kaito puts on the GPU nodes it provisions. */
    public Spec withTaint() {
      return new Spec(
          name, gpus, instanceType, gpuProduct, gpuMemoryMib, true, labels, cpu, memory);
    }

    public Spec withLabel(String key, String value) {
      Map<String, String> more = new LinkedHashMap<>(labels);
      more.put(key, value);
      return new Spec(
          name,
          gpus,
          instanceType,
          gpuProduct,
          gpuMemoryMib,
          skuGpuTaint,
          Map.copyOf(more),
          cpu,
          memory);
    }

    public Spec with(UnaryOperator<Spec> change) {
      return change.apply(this);
    }

    /** The Node object; status (capacity, allocatable) is accepted on create. */
    public Node toNode() {
      Map<String, String> nodeLabels = new LinkedHashMap<>();
      nodeLabels.put("type", "kwok");
      nodeLabels.put("kubernetes.io/hostname", name);
      nodeLabels.put("kubernetes.io/os", "linux");
      nodeLabels.put("kubernetes.io/arch", "amd64");
      nodeLabels.put(INSTANCE_TYPE_LABEL, instanceType);
      Map<String, Quantity> resources = new LinkedHashMap<>();
      resources.put("cpu", new Quantity(cpu));
      resources.put("memory", new Quantity(memory));
      resources.put("pods", new Quantity("110"));
      if (gpus > 0) {
        nodeLabels.put("accelerator", "nvidia");
        nodeLabels.put("nvidia.com/gpu.present", "true");
        nodeLabels.put("nvidia.com/gpu.product", gpuProduct);
        nodeLabels.put("nvidia.com/gpu.count", Integer.toString(gpus));
        nodeLabels.put("nvidia.com/gpu.memory", Integer.toString(gpuMemoryMib));
        resources.put(GPU_RESOURCE, new Quantity(Integer.toString(gpus)));
      }
      nodeLabels.putAll(labels);
      List<Taint> taints =
          skuGpuTaint ? List.of(new Taint("NoSchedule", "sku", null, "gpu")) : List.of();
      return new NodeBuilder()
          .withNewMetadata()
          .withName(name)
          .addToAnnotations(KWOK_ANNOTATION, "fake")
          .addToAnnotations("node.alpha.kubernetes.io/ttl", "0")
          .withLabels(nodeLabels)
          .endMetadata()
          .withNewSpec()
          .withTaints(taints)
          .endSpec()
          .withNewStatus()
          .withCapacity(resources)
          .withAllocatable(resources)
          .endStatus()
          .build();
    }
  }

  /** Creates the node and waits until kwok has made it Ready. */
  public static Node create(KubernetesClient client, Spec spec) {
    client.nodes().resource(spec.toNode()).create();
    return client
        .nodes()
        .withName(spec.name())
        .waitUntilCondition(FakeNodes::ready, 60, TimeUnit.SECONDS);
  }

  static boolean ready(Node node) {
    return node != null
        && node.getStatus() != null
        && node.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }
}
