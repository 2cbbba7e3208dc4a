package sh.kaito.provisioner.azure;

import com.azure.resourcemanager.containerservice.fluent.models.AgentPoolInner;
import com.azure.resourcemanager.containerservice.models.AgentPoolType;
import com.azure.resourcemanager.containerservice.models.OSSku;
import com.azure.resourcemanager.containerservice.models.OSType;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import sh.kaito.api.karpenter.KarpenterConditions;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.provisioner.cloud.ClaimLabels;
import sh.kaito.provisioner.cloud.LaunchException;

/**
 * The AKS agent pool for a NodeClaim, as gpu-provisioner builds it ({@code
 * pkg/providers/instance/instance.go}, contract §6.1): one pool of one VM, named after the claim.
 * Pure functions.
 */
public final class AgentPools {
  private AgentPools() {}

  static final Pattern NAME = Pattern.compile("^[a-z][a-z0-9]{0,11}$");
  static final String IMAGE_FAMILY_ANNOTATION = "kaito.sh/node-image-family";
  static final String CREATION_TIMESTAMP_LABEL = "kaito.sh/creation-timestamp";
  static final DateTimeFormatter CREATION_TIMESTAMP =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH-mm-ss'Z'").withZone(ZoneOffset.UTC);

  /**
   * The {@code PUT} body, as the SDK's model ({@code properties.*} of the REST API's {@code
   * AgentPool}).
   *
   * @throws LaunchException {@code InvalidAgentPoolName}, {@code InstanceTypeMissing}, {@code
   *     InvalidStorageRequest} with upstream's messages
   */
  public static AgentPoolInner agentPool(NodeClaim claim) throws LaunchException {
    String name = claim.getMetadata().getName();
    if (name == null || !NAME.matcher(name).matches()) {
      throw LaunchException.permanent(
          "InvalidAgentPoolName",
          "agentpool name(" + name + ") is invalid, must match regex pattern: " + NAME.pattern());
    }
    String vmSize = ClaimLabels.requiredValue(claim, KarpenterConditions.INSTANCE_TYPE_LABEL);
    if (vmSize == null) {
      throw LaunchException.permanent(
          "InstanceTypeMissing", "nodeClaim spec has no requirement for instance type");
    }
    Quantity storage =
        claim.getSpec().getResources() == null
            ? null
            : claim.getSpec().getResources().getRequests().get("storage");
    long diskGb = storage == null ? 0 : storage.getNumericalAmount().longValue() >> 30;
    if (diskGb <= 0) {
      throw LaunchException.permanent(
          "InvalidStorageRequest",
          "storage request of nodeclaim(" + name + ") should be more than 0");
    }
    List<String> taints = new ArrayList<>();
    for (Taint t : claim.getSpec().getTaints()) {
      taints.add(
          t.getKey() + "=" + (t.getValue() == null ? "" : t.getValue()) + ":" + t.getEffect());
    }
    return new AgentPoolInner()
        .withTypePropertiesType(AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS)
        .withVmSize(vmSize)
        .withOsType(OSType.LINUX)
        .withOsSku(osSku(claim))
        .withCount(1)
        .withOsDiskSizeGB((int) Math.min(Integer.MAX_VALUE, diskGb))
        .withNodeTaints(taints)
        .withNodeLabels(nodeLabels(claim, vmSize));
  }

  static OSSku osSku(NodeClaim claim) {
    Map<String, String> a = claim.getMetadata().getAnnotations();
    return a != null && "azurelinux".equalsIgnoreCase(a.get(IMAGE_FAMILY_ANNOTATION))
        ? OSSku.AZURE_LINUX
        : OSSku.UBUNTU;
  }

  static Map<String, String> nodeLabels(NodeClaim claim, String vmSize) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(KarpenterConditions.NODEPOOL_LABEL, KarpenterConditions.KAITO_NODEPOOL);
    if (claim.getMetadata().getLabels() != null) {
      labels.putAll(claim.getMetadata().getLabels());
    }
    labels.put("kaito.sh/machine-type", vmSize.contains("Standard_N") ? "gpu" : "cpu");
    String created = claim.getMetadata().getCreationTimestamp();
    labels.put(
        CREATION_TIMESTAMP_LABEL,
        CREATION_TIMESTAMP.format(created == null ? Instant.now() : Instant.parse(created)));
    return labels;
  }

  /** Whether a pool (its {@code properties.nodeLabels}) is one Kaito asked for (§6.2 List). */
  static boolean ownedByKaito(Map<String, String> nodeLabels) {
    return nodeLabels != null
        && nodeLabels.containsKey(KarpenterConditions.NODEPOOL_LABEL)
        && (nodeLabels.containsKey("kaito.sh/workspace")
            || nodeLabels.containsKey("kaito.sh/ragengine"));
  }

  static Instant creationTime(Map<String, String> nodeLabels) {
    String v = nodeLabels == null ? null : nodeLabels.get(CREATION_TIMESTAMP_LABEL);
    if (v == null) {
      return Instant.EPOCH;
    }
    try {
      return Instant.from(CREATION_TIMESTAMP.parse(v));
    } catch (RuntimeException e) {
      return Instant.EPOCH;
    }
  }
}
