package sh.kaito.presets.image;

/** A username and password (or token) for one registry. {@link #toString} hides the secret. */
public record RegistryCredential(String username, String password) {
  @Override
  public String toString() {
    return "RegistryCredential[username=" + username + ", password=***]";
  }
}
