package sh.kaito.presets.image;

/**
 * A failure the user can act on (wrong credentials, unreachable registry, corrupted blob, missing
 * file). Its message is complete and names the registry or file; callers print it without a stack
 * trace.
 */
public class ImageException extends Exception {
  public ImageException(String message) {
    super(message);
  }

  public ImageException(String message, Throwable cause) {
    super(message, cause);
  }

  /** The registry refused the credential (or anonymous access); names both, never the secret. */
  static ImageException unauthorized(
      String registry,
      java.util.Optional<RegistryCredential> credential,
      String credentialSource,
      Throwable cause) {
    String who =
        credential
            .map(c -> "the credentials for user '" + c.username() + "'")
            .orElse("anonymous access (no credentials for " + registry + ")");
    return new ImageException(
        "registry "
            + registry
            + " rejected "
            + who
            + " (unauthorized); check the entry for "
            + registry
            + " in "
            + credentialSource,
        cause);
  }
}
