package sh.kaito.api.yaml;

/** A Workspace document that cannot be read; the message says what and where, for a user. */
public class WorkspaceYamlException extends RuntimeException {
  public WorkspaceYamlException(String message) {
    super(message);
  }

  public WorkspaceYamlException(String message, Throwable cause) {
    super(message, cause);
  }
}
