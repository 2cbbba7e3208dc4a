package sh.kaito.operator;

import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.HttpURLConnection;

/**
 * HTTP 409 from the API server: a create of a name that exists, or a write guarded by a
 * resourceVersion that is no longer current. For a level-triggered controller neither is an error:
 * the object is there, or the watch brings the newer one and the next reconcile works from it.
 */
public final class Conflicts {
  private Conflicts() {}

  public static boolean isConflict(KubernetesClientException e) {
    return e.getCode() == HttpURLConnection.HTTP_CONFLICT;
  }
}
