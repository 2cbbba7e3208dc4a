package sh.kaito.testsupport;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * TLS for servers the API server calls on 127.0.0.1 (admission webhooks, conversion webhooks).
 *
 * <p>{@code hack/cluster/up} signs a serving certificate for 127.0.0.1 with the control plane's own
 * CA; a test server presents it, and the webhook configuration names the CA in its {@code
 * caBundle}. Only for a control plane this JVM started (it owns the CA).
 */
public final class LoopbackTls {

  private LoopbackTls() {}

  /** A server SSLContext presenting the 127.0.0.1 certificate of this control plane. */
  public static SSLContext serverContext(ControlPlane controlPlane) {
    Path pki = pki(controlPlane);
    try {
      Certificate cert =
          CertificateFactory.getInstance("X.509")
              .generateCertificate(
                  new ByteArrayInputStream(
                      ControlPlane.read(pki.resolve("apiserver.crt"))
                          .getBytes(StandardCharsets.US_ASCII)));
      PrivateKey key =
          KeyFactory.getInstance("RSA")
              .generatePrivate(
                  new PKCS8EncodedKeySpec(
                      pemBody(ControlPlane.read(pki.resolve("apiserver.key")))));
      char[] password = new char[0];
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("serving", key, password, new Certificate[] {cert});
      KeyManagerFactory keys =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      keys.init(store, password);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(keys.getKeyManagers(), null, null);
      return context;
    } catch (java.io.IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot build TLS from " + pki, e);
    }
  }

  /** The control plane's CA certificate, base64 PEM, as a webhook's {@code caBundle} wants it. */
  public static String caBundle(ControlPlane controlPlane) {
    return Base64.getEncoder()
        .encodeToString(
            ControlPlane.read(pki(controlPlane).resolve("ca.crt"))
                .getBytes(StandardCharsets.US_ASCII));
  }

  private static Path pki(ControlPlane controlPlane) {
    return controlPlane
        .stateDir()
        .orElseThrow(
            () ->
                new IllegalStateException(
                    "loopback TLS needs a control plane started by this JVM, not "
                        + controlPlane.kubeconfig()))
        .resolve("pki");
  }

  /** The DER bytes of a PKCS#8 PEM key ("BEGIN PRIVATE KEY", as OpenSSL 3 writes it). */
  private static byte[] pemBody(String pem) {
    if (!pem.contains("-----BEGIN PRIVATE KEY-----")) {
      throw new IllegalStateException("expected a PKCS#8 PEM private key");
    }
    String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return Base64.getDecoder().decode(body);
  }
}
