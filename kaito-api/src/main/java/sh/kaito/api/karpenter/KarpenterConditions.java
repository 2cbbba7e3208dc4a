package sh.kaito.api.karpenter;

/** Karpenter's NodeClaim condition types, well-known labels and annotations Kaito uses. */
public final class KarpenterConditions {
  private KarpenterConditions() {}

  public static final String LAUNCHED = "Launched";
  public static final String REGISTERED = "Registered";
  public static final String INITIALIZED = "Initialized";
  public static final String READY = "Ready";

  /** Lifecycle order: the first of these that is not True explains why a NodeClaim is stuck. */
  public static final java.util.List<String> LIFECYCLE =
      java.util.List.of(LAUNCHED, REGISTERED, INITIALIZED);

  /** Label on NodeClaims and their nodes; Kaito sets the fake pool {@code kaito}. */
  public static final String NODEPOOL_LABEL = "karpenter.sh/nodepool";

  public static final String KAITO_NODEPOOL = "kaito";

  /** Annotation that keeps Karpenter from consolidating the node away. */
  public static final String DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt";

  public static final String INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type";
  public static final String OS_LABEL = "kubernetes.io/os";
  public static final String AZURE_SKU_NAME_LABEL = "karpenter.azure.com/sku-name";

  /** The extended resource the NVIDIA device plugin advertises. */
  public static final String GPU_RESOURCE = "nvidia.com/gpu";
}
