package sh.kaito.api.v1beta1;

/**
 * Condition types and reasons a Workspace reports, with upstream Kaito's spelling (upstream's
 * {@code api/v1beta1/condition_types.go} and the reasons its controller writes).
 *
 * <p>{@link #WORKSPACE_READY} is the root condition of the v1alpha1 printer column {@code
 * WORKSPACEREADY} (the seed document's {@code kubectl get workspace}); we keep it equal to {@link
 * #WORKSPACE_SUCCEEDED} so that column tells the truth.
 */
public final class WorkspaceConditions {
  private WorkspaceConditions() {}

  // Types.
  public static final String NODE_CLAIM_READY = "NodeClaimReady";
  public static final String NODES_READY = "NodesReady";
  public static final String RESOURCE_READY = "ResourceReady";
  public static final String INFERENCE_READY = "InferenceReady";
  public static final String JOB_STARTED = "JobStarted";
  public static final String WORKSPACE_SUCCEEDED = "WorkspaceSucceeded";
  public static final String WORKSPACE_READY = "WorkspaceReady";
  public static final String WORKSPACE_DELETING = "WorkspaceDeleting";
  public static final String BENCHMARK_COMPLETED = "BenchmarkCompleted";
  public static final String MODEL_MIRROR_READY = "ModelMirrorReady";

  /** Condition status values. */
  public static final String TRUE = "True";

  public static final String FALSE = "False";
  public static final String UNKNOWN = "Unknown";

  /** Reasons, grouped by the condition that carries them. */
  public static final class Reasons {
    private Reasons() {}

    // NodeClaimReady
    public static final String NODE_CLAIMS_READY = "NodeClaimsReady";
    public static final String NODE_CLAIM_NOT_READY = "NodeClaimNotReady";
    public static final String NODE_CLAIM_CREATION_FAILED = "NodeClaimCreationFailed";

    // NodesReady
    public static final String NODES_READY = "NodesReady";
    public static final String NODE_NOT_READY = "NodeNotReady";
    public static final String NODE_PLUGINS_NOT_READY = "NodePluginsNotReady";

    // ResourceReady
    public static final String RESOURCE_STATUS_SUCCESS = "workspaceResourceStatusSuccess";
    public static final String RESOURCE_STATUS_NOT_READY = "workspaceResourceStatusNotReady";

    // InferenceReady
    public static final String INFERENCE_STATUS_SUCCESS = "WorkspaceInferenceStatusSuccess";
    public static final String INFERENCE_STATUS_PENDING = "WorkspaceInferenceStatusPending";

    // Pod failures a user can act on (InferenceReady / JobStarted).
    public static final String CONTAINER_OOM_KILLED = "ContainerOOMKilled";
    public static final String IMAGE_PULL_ERROR = "ImagePullError";
    public static final String CONTAINER_START_ERROR = "ContainerStartError";
    public static final String CONTAINER_CRASH_LOOP_BACK_OFF = "ContainerCrashLoopBackOff";
    public static final String NODE_DISK_PRESSURE = "NodeDiskPressure";
    public static final String NODE_MEMORY_PRESSURE = "NodeMemoryPressure";
    public static final String POD_EVICTED = "PodEvicted";
    public static final String UNSCHEDULABLE = "Unschedulable";

    // JobStarted
    public static final String TUNING_JOB_STATUS_STARTED = "WorkspaceTuningJobStatusStarted";
    public static final String TUNING_JOB_STATUS_PENDING = "WorkspaceTuningJobStatusPending";
    public static final String TUNING_JOB_STATUS_FAILED = "WorkspaceTuningJobStatusFailed";

    // WorkspaceSucceeded (and WorkspaceReady, kept equal)
    public static final String WORKSPACE_SUCCEEDED = "workspaceSucceeded";
    public static final String WORKSPACE_PENDING = "workspacePending";
    public static final String WORKSPACE_FAILED = "workspaceFailed";

    // WorkspaceDeleting
    public static final String WORKSPACE_DELETED = "workspaceDeleted";
  }
}
