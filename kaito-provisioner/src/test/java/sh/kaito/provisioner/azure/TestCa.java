package sh.kaito.provisioner.azure;

import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throwaway certificate authority and one certificate for {@code 127.0.0.1} signed by it: the
 * fake Azure endpoints serve HTTPS with it and the SDK under test trusts only the CA.
 */
final class TestCa {
  final SSLContext server;
  final SSLContext client;
  private final X509Certificate ca;

  TestCa() throws Exception {
    // EC P-256: key generation takes milliseconds, RSA 2048 up to seconds on a loaded machine.
    KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
    ec.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair caKey = ec.generateKeyPair();
    KeyPair hostKey = ec.generateKeyPair();
    Date from = Date.from(Instant.now().minus(Duration.ofMinutes(1)));
    Date to = Date.from(Instant.now().plus(Duration.ofHours(1)));
    X500Name issuer = new X500Name("CN=kaito test CA");
    JcaX509CertificateConverter converter = new JcaX509CertificateConverter();

    var caBuilder =
        new JcaX509v3CertificateBuilder(
            issuer, BigInteger.ONE, from, to, issuer, caKey.getPublic());
    caBuilder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    ca =
        converter.getCertificate(
            caBuilder.build(
                new JcaContentSignerBuilder("SHA256withECDSA").build(caKey.getPrivate())));

    var hostBuilder =
        new JcaX509v3CertificateBuilder(
            issuer, BigInteger.TWO, from, to, new X500Name("CN=127.0.0.1"), hostKey.getPublic());
    hostBuilder.addExtension(
        Extension.subjectAlternativeName,
        false,
        new GeneralNames(new GeneralName(GeneralName.iPAddress, "127.0.0.1")));
    X509Certificate host =
        converter.getCertificate(
            hostBuilder.build(
                new JcaContentSignerBuilder("SHA256withECDSA").build(caKey.getPrivate())));

    char[] none = new char[0];
    KeyStore keys = KeyStore.getInstance("PKCS12");
    keys.load(null, null);
    keys.setKeyEntry("host", hostKey.getPrivate(), none, new X509Certificate[] {host, ca});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, none);
    server = SSLContext.getInstance("TLS");
    server.init(kmf.getKeyManagers(), null, null);

    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", ca);
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    client = SSLContext.getInstance("TLS");
    client.init(null, tmf.getTrustManagers(), null);
  }

  /**
   * A PKCS12 trust store holding only the CA, password {@code changeit}, for a JVM started with
   * {@code -Djavax.net.ssl.trustStore}.
   */
  Path trustStore(Path dir) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", ca);
    Path file = dir.resolve("test-ca.p12");
    try (OutputStream out = Files.newOutputStream(file)) {
      trust.store(out, "changeit".toCharArray());
    }
    return file;
  }
}
