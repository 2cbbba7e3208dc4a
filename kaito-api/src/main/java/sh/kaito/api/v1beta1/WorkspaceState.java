package sh.kaito.api.v1beta1;

/**
 * Values of {@code status.state} (v1beta1): {@code Pending} for every workspace at first, then
 * {@code Ready}/{@code NotReady} for inference and {@code Running}/{@code Succeeded}/{@code Failed}
 * for tuning.
 */
public final class WorkspaceState {
  private WorkspaceState() {}

  public static final String PENDING = "Pending";
  public static final String READY = "Ready";
  public static final String NOT_READY = "NotReady";
  public static final String RUNNING = "Running";
  public static final String SUCCEEDED = "Succeeded";
  public static final String FAILED = "Failed";
}
