package sh.kaito.provisioner.azure;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Entra ID's token endpoint for the client-credentials grant with a federated client assertion, as
 * documented ("Microsoft identity platform and the OAuth 2.0 client credentials flow", "Workload
 * identity federation"): {@code POST /{tenant}/oauth2/v2.0/token}, form-encoded {@code
 * grant_type=client_credentials}, {@code client_id}, {@code scope} (one of them {@code
 * <resource>/.default}; MSAL adds {@code openid profile offline_access}, which the endpoint ignores
 * for this grant), {@code
 * client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer} and {@code
 * client_assertion} (the projected service-account token); answers {@code {token_type: Bearer,
 * expires_in, access_token}}, or 400 {@code invalid_client} / {@code invalid_request}.
 */
final class FakeEntraId extends FakeHttps {
  static final String ACCESS_TOKEN = "arm-token-issued-by-the-fake";

  private final String tenant;
  private final String clientId;
  private final String expectedAssertion;

  FakeEntraId(TestCa ca, String tenant, String clientId, String expectedAssertion)
      throws IOException {
    super(ca);
    this.tenant = tenant;
    this.clientId = clientId;
    this.expectedAssertion = expectedAssertion;
  }

  static Map<String, String> form(String body) {
    Map<String, String> out = new HashMap<>();
    for (String pair : body.split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0) {
        out.put(
            URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
            URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return out;
  }

  @Override
  void handle(HttpExchange ex, Request r) throws IOException {
    if (!r.method().equals("POST") || !r.path().equals("/" + tenant + "/oauth2/v2.0/token")) {
      reply(ex, 404, "{\"error\":\"not_found\",\"error_description\":\"" + r.path() + "\"}");
      return;
    }
    Map<String, String> f = form(r.body());
    if (!"client_credentials".equals(f.get("grant_type"))
        || !"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            .equals(f.get("client_assertion_type"))
        || f.get("scope") == null
        || java.util.Arrays.stream(f.get("scope").split(" "))
            .noneMatch(x -> x.endsWith("/.default"))) {
      reply(ex, 400, "{\"error\":\"invalid_request\",\"error_description\":\"bad grant\"}");
      return;
    }
    if (!clientId.equals(f.get("client_id"))
        || !expectedAssertion.equals(f.get("client_assertion"))) {
      reply(ex, 400, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS700213\"}");
      return;
    }
    reply(
        ex,
        200,
        "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
            + "\"access_token\":\""
            + ACCESS_TOKEN
            + "\"}");
  }
}
