package sh.kaito.runtime.server;

/**
 * A request the server refuses, with the HTTP status and the fields of the OpenAI error shape
 * ({@code {"error":{"message","type","param","code"}}}). {@link ChatServer} maps it to that shape
 * on {@code /v1/*} and to upstream's {@code {"detail": message}} elsewhere. Never logged with a
 * stack trace: it is the caller's mistake or a limit, not a server fault.
 */
public final class ApiException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final int status;
  private final String type;
  private final String param;
  private final String code;

  public ApiException(int status, String type, String message, String param, String code) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }

  /** 400: the request is malformed or asks for something this server cannot do. */
  public static ApiException badRequest(String message, String param) {
    return new ApiException(400, "invalid_request_error", message, param, null);
  }

  /** 400 with a machine-readable code, e.g. {@code context_length_exceeded}. */
  public static ApiException badRequest(String message, String param, String code) {
    return new ApiException(400, "invalid_request_error", message, param, code);
  }

  public int status() {
    return status;
  }

  public String type() {
    return type;
  }

  public String param() {
    return param;
  }

  public String code() {
    return code;
  }
}
