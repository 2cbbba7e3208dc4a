package sh.kaito.controller.webhook;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Self-managed webhook certificates, as upstream's knative webhook does: a CA and a serving
 * certificate kept in a Secret (so every replica serves the same one), and the CA patched into the
 * ValidatingWebhookConfiguration's {@code caBundle}. Regenerated when missing, unreadable or within
 * 30 days of expiry.
 */
public final class WebhookCertificates {
  private static final Logger log = LoggerFactory.getLogger(WebhookCertificates.class);
  static final Duration VALIDITY = Duration.ofDays(365);
  static final Duration RENEW_BEFORE = Duration.ofDays(30);

  private WebhookCertificates() {}

  /** Generates a CA and a serving certificate for these DNS names and IP addresses. */
  public static TlsMaterial generate(List<String> dnsNames, List<String> ipAddresses) {
    try {
      KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
      gen.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
      KeyPair caKeys = gen.generateKeyPair();
      KeyPair servingKeys = gen.generateKeyPair();
      Instant now = Instant.now().minus(Duration.ofMinutes(5));
      Date from = Date.from(now);
      Date to = Date.from(now.plus(VALIDITY));
      X500Name caName = new X500Name("CN=kaito-webhook-ca");
      ContentSigner caSigner =
          new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate());

      JcaX509v3CertificateBuilder ca =
          new JcaX509v3CertificateBuilder(caName, serial(), from, to, caName, caKeys.getPublic());
      ca.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      ca.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      X509CertificateHolder caCert = ca.build(caSigner);

      String cn = dnsNames.isEmpty() ? "kaito-webhook" : dnsNames.get(0);
      JcaX509v3CertificateBuilder serving =
          new JcaX509v3CertificateBuilder(
              caName, serial(), from, to, new X500Name("CN=" + cn), servingKeys.getPublic());
      List<GeneralName> sans = new ArrayList<>();
      dnsNames.forEach(d -> sans.add(new GeneralName(GeneralName.dNSName, d)));
      ipAddresses.forEach(ip -> sans.add(new GeneralName(GeneralName.iPAddress, ip)));
      serving.addExtension(
          Extension.subjectAlternativeName,
          false,
          new GeneralNames(sans.toArray(GeneralName[]::new)));
      serving.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      serving.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      serving.addExtension(
          Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      X509CertificateHolder servingCert = serving.build(caSigner);

      return new TlsMaterial(
          pem("CERTIFICATE", caCert.getEncoded()),
          pem("CERTIFICATE", servingCert.getEncoded()),
          pem("PRIVATE KEY", servingKeys.getPrivate().getEncoded()));
    } catch (GeneralSecurityException | OperatorCreationException | java.io.IOException e) {
      throw new IllegalStateException("cannot generate the webhook certificate", e);
    }
  }

  private static BigInteger serial() {
    return new BigInteger(64, new SecureRandom());
  }

  private static String pem(String type, byte[] der) {
    String b64 =
        Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + b64 + "\n-----END " + type + "-----\n";
  }

  /**
   * The certificate in Secret {@code namespace/name}, created or renewed when needed. When two
   * replicas race, the one whose create loses reads the winner's.
   */
  public static TlsMaterial ensureSecret(
      KubernetesClient client,
      String namespace,
      String name,
      List<String> dnsNames,
      List<String> ipAddresses) {
    Secret existing = client.secrets().inNamespace(namespace).withName(name).get();
    TlsMaterial current = existing == null ? null : fromSecret(existing);
    if (current != null && current.validAt(Instant.now().plus(RENEW_BEFORE))) {
      return current;
    }
    TlsMaterial fresh = generate(dnsNames, ipAddresses);
    Secret secret =
        new SecretBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(namespace)
            .endMetadata()
            .withType("kubernetes.io/tls")
            .withStringData(
                Map.of(
                    "ca.crt", fresh.caPem(), "tls.crt", fresh.certPem(), "tls.key", fresh.keyPem()))
            .build();
    try {
      if (existing == null) {
        client.secrets().inNamespace(namespace).resource(secret).create();
      } else {
        secret.getMetadata().setResourceVersion(existing.getMetadata().getResourceVersion());
        client.secrets().inNamespace(namespace).resource(secret).update();
      }
      log.info(
          "event=WebhookCertificateIssued secret={}/{} dnsNames={}", namespace, name, dnsNames);
      return fresh;
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
      TlsMaterial winner = fromSecret(client.secrets().inNamespace(namespace).withName(name).get());
      if (winner == null) {
        throw e;
      }
      return winner;
    }
  }

  static TlsMaterial fromSecret(Secret s) {
    if (s == null || s.getData() == null) {
      return null;
    }
    String ca = decode(s.getData().get("ca.crt"));
    String cert = decode(s.getData().get("tls.crt"));
    String key = decode(s.getData().get("tls.key"));
    if (ca == null || cert == null || key == null) {
      return null;
    }
    return new TlsMaterial(ca, cert, key);
  }

  private static String decode(String b64) {
    return b64 == null
        ? null
        : new String(Base64.getDecoder().decode(b64), StandardCharsets.US_ASCII);
  }

  /** Writes the CA into every webhook of the configuration whose caBundle differs. */
  public static void patchCaBundle(KubernetesClient client, String configuration, TlsMaterial tls) {
    String bundle = tls.caBundle();
    ValidatingWebhookConfiguration vwc =
        client
            .admissionRegistration()
            .v1()
            .validatingWebhookConfigurations()
            .withName(configuration)
            .get();
    if (vwc == null) {
      log.warn("event=WebhookConfigurationMissing name={}", configuration);
      return;
    }
    boolean changed = false;
    for (ValidatingWebhook w : vwc.getWebhooks()) {
      if (!bundle.equals(w.getClientConfig().getCaBundle())) {
        w.getClientConfig().setCaBundle(bundle);
        changed = true;
      }
    }
    if (changed) {
      client.admissionRegistration().v1().validatingWebhookConfigurations().resource(vwc).update();
      log.info("event=WebhookCaBundlePatched configuration={}", configuration);
    }
  }
}
