package sh.kaito.operator;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.utils.Utils;

/** How Kaito's controllers prepare a fabric8 {@link Config} before building their client. */
public final class KubeConfigs {
  private KubeConfigs() {}

  /**
   * Stops fabric8 from re-reading the kubeconfig on every request when it authenticates with a
   * client certificate only.
   *
   * <p>fabric8 7.x's {@code TokenRefreshInterceptor} refreshes the config once a minute, but it
   * moves its "last refreshed" time only when the refresh produced a token. A certificate-only
   * kubeconfig (kubeadm's admin.conf, our local control plane's) never does, so after the first
   * minute every single request re-reads and re-parses the kubeconfig file: a quarter of the
   * controller's CPU time in {@code bench/controller}. A token provider that answers "no token"
   * takes the interceptor's cheap branch instead. Configs that carry a token, an exec plugin's
   * token, an auth provider or basic auth are returned unchanged, so their refresh still works. (A
   * certificate-only kubeconfig later rewritten to hold a token needs a restart.)
   */
  public static Config withoutCertificateOnlyRefresh(Config config) {
    boolean certificateOnly =
        config.getOauthTokenProvider() == null
            && Utils.isNullOrEmpty(config.getOauthToken())
            && Utils.isNullOrEmpty(config.getAutoOAuthToken())
            && config.getAuthProvider() == null
            && Utils.isNullOrEmpty(config.getUsername())
            && (Utils.isNotNullOrEmpty(config.getClientCertFile())
                || Utils.isNotNullOrEmpty(config.getClientCertData()));
    if (certificateOnly) {
      config.setOauthTokenProvider(() -> null);
    }
    return config;
  }
}
