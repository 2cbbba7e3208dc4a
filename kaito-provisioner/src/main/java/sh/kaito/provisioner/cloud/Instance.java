package sh.kaito.provisioner.cloud;

import io.fabric8.kubernetes.api.model.Quantity;
import java.time.Instant;
import java.util.Map;

/**
 * A machine a {@link CloudProvider} made for a NodeClaim.
 *
 * @param claimName the NodeClaim it was made for
 * @param providerID the Node's {@code spec.providerID}, e.g. {@code kaito-fake://<node>}
 * @param nodeName the name the Node registers with
 * @param instanceType e.g. {@code Standard_NC24ads_A100_v4}
 * @param capacity what the machine has ({@code cpu}, {@code memory}, {@code nvidia.com/gpu}, ...)
 * @param allocatable what pods can use of it
 * @param createdAt when the machine was made (garbage collection leaves young ones alone)
 * @param deleting whether the cloud is already deleting it
 */
public record Instance(
    String claimName,
    String providerID,
    String nodeName,
    String instanceType,
    Map<String, Quantity> capacity,
    Map<String, Quantity> allocatable,
    Instant createdAt,
    boolean deleting) {

  public Instance {
    capacity = Map.copyOf(capacity);
    allocatable = Map.copyOf(allocatable);
  }
}
