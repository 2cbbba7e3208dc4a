package sh.kaito.images;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.stream.Stream;

/**
 * What {@code ca-certificates}' and {@code ca-certificates-java}' maintainer scripts would have
 * made, made here because {@code dpkg-deb -x} runs no scripts: the PEM bundle and Java's trust
 * store, both from the Mozilla certificates the package ships, in file-name order.
 *
 * <p>The trust store is PKCS#12 without a MAC and without certificate encryption: Java writes a
 * random salt for either, which would make every build's digest different. Trusted-certificate
 * entries carry no secret, and Java reads such a store with any password (the usual {@code
 * changeit} too).
 */
final class TrustStores {
  static final String MOZILLA_DIR = "usr/share/ca-certificates/mozilla";

  private TrustStores() {}

  /** The Mozilla certificates of an unpacked {@code ca-certificates}, sorted by file name. */
  static List<Path> certificateFiles(Path rootfs) throws IOException {
    Path dir = rootfs.resolve(MOZILLA_DIR);
    if (!Files.isDirectory(dir)) {
      throw new IOException(dir + " is missing: is ca-certificates in base-packages.txt?");
    }
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".crt")).sorted().toList();
    }
  }

  /** {@code /etc/ssl/certs/ca-certificates.crt}: the certificates one after another. */
  static byte[] pemBundle(List<Path> certificates) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Path cert : certificates) {
      byte[] bytes = Files.readAllBytes(cert);
      out.write(bytes);
      if (bytes.length > 0 && bytes[bytes.length - 1] != '\n') {
        out.write('\n');
      }
    }
    return out.toByteArray();
  }

  /** A reproducible PKCS#12 trust store with one trusted entry per certificate. */
  static byte[] javaTrustStore(List<Path> certificates) throws IOException {
    String macBefore = System.getProperty("keystore.pkcs12.macAlgorithm");
    String protectionBefore = System.getProperty("keystore.pkcs12.certProtectionAlgorithm");
    System.setProperty("keystore.pkcs12.macAlgorithm", "NONE");
    System.setProperty("keystore.pkcs12.certProtectionAlgorithm", "NONE");
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      CertificateFactory x509 = CertificateFactory.getInstance("X.509");
      for (Path file : certificates) {
        String alias = file.getFileName().toString().replaceAll("\\.crt$", "").toLowerCase();
        X509Certificate cert =
            (X509Certificate)
                x509.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(file)));
        store.setCertificateEntry(alias, cert);
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      store.store(out, "changeit".toCharArray());
      return out.toByteArray();
    } catch (GeneralSecurityException e) {
      throw new IOException("could not write the Java trust store: " + e.getMessage(), e);
    } finally {
      restore("keystore.pkcs12.macAlgorithm", macBefore);
      restore("keystore.pkcs12.certProtectionAlgorithm", protectionBefore);
    }
  }

  private static void restore(String key, String value) {
    if (value == null) {
      System.clearProperty(key);
    } else {
      System.setProperty(key, value);
    }
  }
}
