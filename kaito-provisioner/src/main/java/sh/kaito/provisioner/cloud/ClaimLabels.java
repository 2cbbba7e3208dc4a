package sh.kaito.provisioner.cloud;

import java.util.LinkedHashMap;
import java.util.Map;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeSelectorRequirementWithMinValues;

/** The labels a NodeClaim puts on its Node, as Karpenter computes them. */
public final class ClaimLabels {
  private ClaimLabels() {}

  /** Set by the kubelet from the node name; Karpenter never copies it from a requirement. */
  private static final String HOSTNAME = "kubernetes.io/hostname";

  /**
   * The claim's own labels, then one value of every {@code In} requirement whose key is not already
   * labelled (Karpenter's {@code Requirements.Labels()}; it picks any value, we pick the first so
   * the result is stable).
   */
  public static Map<String, String> of(NodeClaim claim) {
    Map<String, String> labels = new LinkedHashMap<>();
    Map<String, String> own = claim.getMetadata().getLabels();
    if (own != null) {
      labels.putAll(own);
    }
    if (claim.getSpec() != null && claim.getSpec().getRequirements() != null) {
      for (NodeSelectorRequirementWithMinValues r : claim.getSpec().getRequirements()) {
        if (r == null
            || r.getKey() == null
            || HOSTNAME.equals(r.getKey())
            || !"In".equals(r.getOperator())
            || r.getValues() == null
            || r.getValues().isEmpty()) {
          continue;
        }
        labels.putIfAbsent(r.getKey(), r.getValues().get(0));
      }
    }
    return labels;
  }

  /** The first value of the claim's {@code key In [...]} requirement, or null. */
  public static String requiredValue(NodeClaim claim, String key) {
    if (claim.getSpec() == null || claim.getSpec().getRequirements() == null) {
      return null;
    }
    for (NodeSelectorRequirementWithMinValues r : claim.getSpec().getRequirements()) {
      if (r != null
          && key.equals(r.getKey())
          && "In".equals(r.getOperator())
          && r.getValues() != null
          && !r.getValues().isEmpty()) {
        return r.getValues().get(0);
      }
    }
    return null;
  }
}
