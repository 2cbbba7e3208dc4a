package sh.kaito.controller.reconcile;

import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import sh.kaito.api.v1beta1.Workspace;

/** Revision hashing (contract §2.3): what counts as "the spec changed". */
public final class Revisions {
  private Revisions() {}

  public static final int MAX_HISTORY = 10;

  /** sha256 of the JSON of resource, inference and tuning, each newline-terminated (upstream). */
  public static String hash(Workspace ws, KubernetesSerialization json) {
    String text =
        json.asJson(ws.getResource())
            + "\n"
            + json.asJson(ws.getInference())
            + "\n"
            + json.asJson(ws.getTuning())
            + "\n";
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String revisionName(Workspace ws, String hash) {
    return ws.getMetadata().getName() + "-" + hash.substring(0, 5);
  }
}
