package sh.kaito.api.v1beta1;

import java.util.List;

/** Annotations with behaviour (upstream {@code api/v1beta1/labels.go}). */
public final class WorkspaceAnnotations {
  private WorkspaceAnnotations() {}

  /** {@code "True"} (exactly) makes the Service a LoadBalancer. */
  public static final String ENABLE_LB = "kaito.sh/enablelb";

  /** Runtime choice: {@code transformers} or {@code vllm}. */
  public static final String RUNTIME = "kaito.sh/runtime";

  /** Present: GPU sizing failures become warnings. */
  public static final String BYPASS_RESOURCE_CHECKS = "kaito.sh/bypass-resource-checks";

  /** {@code ubuntu} or {@code azurelinux}, copied to the NodeClaim. */
  public static final String NODE_IMAGE_FAMILY = "kaito.sh/node-image-family";

  public static final List<String> NODE_IMAGE_FAMILIES = List.of("azurelinux", "ubuntu");

  /** Chooses one of the operator's NodeClasses (Karpenter provisioner only). */
  public static final String NODE_CLASS_NAME = "kaito.sh/node-class-name";

  public static final String DISABLE_BENCHMARK = "kaito.sh/disable-benchmark";

  /** {@code balanced}, {@code interactivity} or {@code throughput}. */
  public static final String PERFORMANCE_MODE = "kaito.sh/performance-mode";

  public static final List<String> PERFORMANCE_MODES =
      List.of("balanced", "interactivity", "throughput");

  /** {@code "true"} or {@code "false"}: load weights from the node's disk. */
  public static final String USE_LOCAL_WEIGHTS = "kaito.sh/use-local-weights";

  /** Written by the controller: the hash of resource, inference and tuning. */
  public static final String HASH = "workspace.kaito.io/hash";

  /** Written by the controller on the workspace and its workloads: the revision number. */
  public static final String REVISION = "workspace.kaito.io/revision";

  /**
   * Our addition: {@code "false"} stops a tuning workspace from serving its adapter after the job
   * succeeds (the seed's flow, on by default).
   */
  public static final String SERVE_AFTER_TUNING = "kaito.sh/serve-after-tuning";
}
