package sh.kaito.presets.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** sha256 digests in OCI form, {@code sha256:<64 hex>}. */
public final class Digests {
  private Digests() {}

  public static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("no SHA-256", e);
    }
  }

  public static String format(MessageDigest digest) {
    return "sha256:" + HexFormat.of().formatHex(digest.digest());
  }

  public static String of(byte[] bytes) {
    MessageDigest d = sha256();
    d.update(bytes);
    return format(d);
  }

  public static String of(Path file) throws IOException {
    MessageDigest d = sha256();
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        d.update(buf, 0, n);
      }
    }
    return format(d);
  }

  /** Checks the form of a digest string, so it can be used in URLs and file names. */
  public static String requireValid(String digest) throws ImageException {
    if (digest == null || !digest.matches("sha256:[0-9a-f]{64}")) {
      throw new ImageException("unsupported or malformed digest: " + digest);
    }
    return digest;
  }
}
