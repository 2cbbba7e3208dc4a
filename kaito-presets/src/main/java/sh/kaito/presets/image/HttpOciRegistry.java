package sh.kaito.presets.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@link OciRegistry} over HTTP(S) with {@code java.net.http}. Authentication follows the
 * registry's {@code WWW-Authenticate} challenge: Basic (htpasswd registries) or Bearer tokens from
 * the named realm (Docker Hub, ACR, GHCR), using the credential given.
 *
 * <p>Plain HTTP is used for loopback registries and when {@code insecure} is set; otherwise HTTPS
 * with normal certificate checks.
 */
public final class HttpOciRegistry implements OciRegistry {

  static final String ACCEPT_MANIFESTS =
      String.join(
          ", ",
          MediaTypes.OCI_MANIFEST,
          MediaTypes.DOCKER_MANIFEST,
          MediaTypes.OCI_INDEX,
          MediaTypes.DOCKER_MANIFEST_LIST);

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern CHALLENGE_PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");

  private final String registry;
  private final URI base;
  private final Optional<RegistryCredential> credential;
  private final String credentialSource;
  private final HttpClient http;
  private final Map<String, String> authorizationByScope = new LinkedHashMap<>();

  /**
   * @param registry {@code host[:port]}
   * @param credential the credential to answer challenges with, if any
   * @param credentialSource where the credential came from, for messages (a file path)
   * @param insecure use plain HTTP even for non-loopback hosts
   */
  public HttpOciRegistry(
      String registry,
      Optional<RegistryCredential> credential,
      String credentialSource,
      boolean insecure) {
    this.registry = registry;
    this.credential = credential;
    this.credentialSource = credentialSource;
    String scheme = insecure || isLoopback(registry) ? "http" : "https";
    this.base = URI.create(scheme + "://" + registry + "/");
    this.http =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(20))
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
  }

  /** Whether {@code registry} is a loopback host, where plain HTTP is the norm. */
  public static boolean isLoopback(String registry) {
    String host = registry.toLowerCase(Locale.ROOT);
    if (host.startsWith("[")) {
      return host.startsWith("[::1]");
    }
    int colon = host.indexOf(':');
    if (colon >= 0) {
      host = host.substring(0, colon);
    }
    return host.equals("localhost") || host.startsWith("127.");
  }

  @Override
  public String registry() {
    return registry;
  }

  @Override
  public Manifest fetchManifest(String repository, String reference) throws ImageException {
    HttpRequest.Builder req =
        HttpRequest.newBuilder(url(repository, "manifests/" + reference))
            .header("Accept", ACCEPT_MANIFESTS)
            .GET();
    HttpResponse<byte[]> resp =
        send(req, repository, false, HttpResponse.BodyHandlers.ofByteArray());
    if (resp.statusCode() == 404) {
      throw new ImageException(
          "image " + registry + "/" + repository + ":" + reference + " not found in " + registry);
    }
    expect(resp, 200, "fetch manifest " + repository + ":" + reference);
    byte[] body = resp.body();
    String mediaType = resp.headers().firstValue("Content-Type").orElse("").split(";")[0].trim();
    if (mediaType.isEmpty() || mediaType.equals("application/json")) {
      mediaType = mediaTypeField(body);
    }
    return new Manifest(body, mediaType, Digests.of(body));
  }

  @Override
  public InputStream openBlob(String repository, String digest) throws ImageException {
    Digests.requireValid(digest);
    HttpRequest.Builder req = HttpRequest.newBuilder(url(repository, "blobs/" + digest)).GET();
    HttpResponse<InputStream> resp =
        send(req, repository, false, HttpResponse.BodyHandlers.ofInputStream());
    if (resp.statusCode() != 200) {
      try (InputStream ignored = resp.body()) {
        // drain and close
      } catch (IOException e) {
        // ignore: we report the status
      }
      if (resp.statusCode() == 404) {
        throw new ImageException("blob " + digest + " not found in " + registry + "/" + repository);
      }
      throw new ImageException(
          "registry " + registry + " answered " + resp.statusCode() + " to blob " + digest);
    }
    return resp.body();
  }

  @Override
  public boolean hasBlob(String repository, String digest) throws ImageException {
    Digests.requireValid(digest);
    HttpRequest.Builder req =
        HttpRequest.newBuilder(url(repository, "blobs/" + digest))
            .method("HEAD", HttpRequest.BodyPublishers.noBody());
    HttpResponse<Void> resp = send(req, repository, true, HttpResponse.BodyHandlers.discarding());
    return resp.statusCode() == 200;
  }

  @Override
  public void pushBlob(String repository, String digest, Path content) throws ImageException {
    try {
      pushBlob(repository, digest, HttpRequest.BodyPublishers.ofFile(content));
    } catch (FileNotFoundException e) {
      throw new ImageException("cannot read " + content, e);
    }
  }

  @Override
  public void pushBlob(String repository, String digest, byte[] content) throws ImageException {
    pushBlob(repository, digest, HttpRequest.BodyPublishers.ofByteArray(content));
  }

  private void pushBlob(String repository, String digest, HttpRequest.BodyPublisher body)
      throws ImageException {
    Digests.requireValid(digest);
    if (hasBlob(repository, digest)) {
      return;
    }
    HttpRequest.Builder start =
        HttpRequest.newBuilder(url(repository, "blobs/uploads/"))
            .POST(HttpRequest.BodyPublishers.noBody());
    HttpResponse<String> started =
        send(start, repository, true, HttpResponse.BodyHandlers.ofString());
    expect(started, 202, "start blob upload to " + repository);
    String location =
        started
            .headers()
            .firstValue("Location")
            .orElseThrow(
                () -> new ImageException("registry " + registry + " gave no upload location"));
    URI upload = base.resolve(location);
    String sep = upload.getQuery() == null ? "?" : "&";
    URI put =
        URI.create(upload + sep + "digest=" + URLEncoder.encode(digest, StandardCharsets.UTF_8));
    HttpRequest.Builder req =
        HttpRequest.newBuilder(put).header("Content-Type", "application/octet-stream").PUT(body);
    HttpResponse<String> done = send(req, repository, true, HttpResponse.BodyHandlers.ofString());
    expect(done, 201, "upload blob " + digest + " to " + repository);
  }

  @Override
  public String pushManifest(String repository, String tag, byte[] body, String mediaType)
      throws ImageException {
    HttpRequest.Builder req =
        HttpRequest.newBuilder(url(repository, "manifests/" + tag))
            .header("Content-Type", mediaType)
            .PUT(HttpRequest.BodyPublishers.ofByteArray(body));
    HttpResponse<String> resp = send(req, repository, true, HttpResponse.BodyHandlers.ofString());
    expect(resp, 201, "put manifest " + repository + ":" + tag);
    return Digests.of(body);
  }

  private URI url(String repository, String rest) {
    return base.resolve("v2/" + repository + "/" + rest);
  }

  /** Sends a request, answering one authentication challenge if the registry asks for it. */
  private <T> HttpResponse<T> send(
      HttpRequest.Builder request,
      String repository,
      boolean push,
      HttpResponse.BodyHandler<T> handler)
      throws ImageException {
    String scope = "repository:" + repository + ":" + (push ? "pull,push" : "pull");
    String auth = authorizationByScope.get(scope);
    if (auth != null) {
      request.setHeader("Authorization", auth);
    }
    HttpResponse<T> resp = exchange(request.build(), handler);
    if (resp.statusCode() != 401) {
      return resp;
    }
    discard(resp);
    String challenge = resp.headers().firstValue("WWW-Authenticate").orElse("");
    auth = authorize(challenge, scope);
    authorizationByScope.put(scope, auth);
    request.setHeader("Authorization", auth);
    resp = exchange(request.build(), handler);
    if (resp.statusCode() == 401 || resp.statusCode() == 403) {
      discard(resp);
      throw unauthorized();
    }
    return resp;
  }

  private String authorize(String challenge, String scope) throws ImageException {
    if (credential.isEmpty() && !challenge.regionMatches(true, 0, "Bearer", 0, 6)) {
      throw new ImageException(
          "registry "
              + registry
              + " requires authentication, and there are no credentials for "
              + registry
              + " in "
              + credentialSource);
    }
    if (challenge.regionMatches(true, 0, "Basic", 0, 5)) {
      return basic(credential.get());
    }
    if (challenge.regionMatches(true, 0, "Bearer", 0, 6)) {
      return "Bearer " + fetchToken(challenge, scope);
    }
    throw new ImageException(
        "registry " + registry + " asks for unsupported authentication: " + challenge);
  }

  private String fetchToken(String challenge, String scope) throws ImageException {
    Map<String, String> params = new LinkedHashMap<>();
    Matcher m = CHALLENGE_PARAM.matcher(challenge);
    while (m.find()) {
      params.put(m.group(1).toLowerCase(Locale.ROOT), m.group(2));
    }
    String realm = params.get("realm");
    if (realm == null) {
      throw new ImageException("registry " + registry + " sent a Bearer challenge without realm");
    }
    StringBuilder uri = new StringBuilder(realm).append(realm.contains("?") ? "&" : "?");
    if (params.containsKey("service")) {
      uri.append("service=")
          .append(URLEncoder.encode(params.get("service"), StandardCharsets.UTF_8))
          .append('&');
    }
    uri.append("scope=").append(URLEncoder.encode(scope, StandardCharsets.UTF_8));
    HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(uri.toString())).GET();
    credential.ifPresent(c -> req.header("Authorization", basic(c)));
    HttpResponse<byte[]> resp = exchange(req.build(), HttpResponse.BodyHandlers.ofByteArray());
    if (resp.statusCode() == 401 || resp.statusCode() == 403) {
      throw unauthorized();
    }
    expect(resp, 200, "get a token from " + realm);
    try {
      JsonNode body = JSON.readTree(resp.body());
      String token = body.path("token").asText(body.path("access_token").asText(""));
      if (token.isEmpty()) {
        throw new ImageException("token service " + realm + " returned no token");
      }
      return token;
    } catch (IOException e) {
      throw new ImageException("token service " + realm + " returned invalid JSON", e);
    }
  }

  private ImageException unauthorized() {
    return ImageException.unauthorized(registry, credential, credentialSource, null);
  }

  private static String basic(RegistryCredential c) {
    return "Basic "
        + Base64.getEncoder()
            .encodeToString((c.username() + ":" + c.password()).getBytes(StandardCharsets.UTF_8));
  }

  private <T> HttpResponse<T> exchange(HttpRequest request, HttpResponse.BodyHandler<T> handler)
      throws ImageException {
    try {
      return http.send(request, handler);
    } catch (ConnectException e) {
      throw new ImageException("cannot reach registry " + registry + ": connection refused", e);
    } catch (HttpTimeoutException e) {
      throw new ImageException("registry " + registry + " timed out", e);
    } catch (IOException e) {
      throw new ImageException("cannot talk to registry " + registry + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ImageException("interrupted while talking to " + registry, e);
    }
  }

  private static void discard(HttpResponse<?> resp) {
    if (resp.body() instanceof InputStream in) {
      try {
        in.close();
      } catch (IOException e) {
        // nothing to do: the response is discarded
      }
    }
  }

  private void expect(HttpResponse<?> resp, int status, String what) throws ImageException {
    if (resp.statusCode() != status) {
      Object body = resp.body();
      String detail =
          body instanceof String s
              ? s
              : body instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : "";
      if (detail.length() > 300) {
        detail = detail.substring(0, 300) + "...";
      }
      throw new ImageException(
          "registry "
              + registry
              + " answered "
              + resp.statusCode()
              + " to "
              + what
              + ": "
              + detail.strip());
    }
  }

  private static String mediaTypeField(byte[] body) {
    try {
      return JSON.readTree(body).path("mediaType").asText("");
    } catch (IOException e) {
      return "";
    }
  }
}
