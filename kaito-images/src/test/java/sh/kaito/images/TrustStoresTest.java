package sh.kaito.images;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrustStoresTest {
  @TempDir Path tmp;

  @Test
  void theJavaTrustStoreIsTheSameBytesEveryTimeAndLoadsWithTheUsualPassword() throws Exception {
    // Two real CA certificates from this machine's own Mozilla set, as the package ships them.
    Path mozilla = Path.of("/usr/share/ca-certificates/mozilla");
    List<Path> certs;
    try (var files = Files.list(mozilla)) {
      certs = files.filter(f -> f.toString().endsWith(".crt")).sorted().limit(2).toList();
    }
    assertThat(certs).hasSize(2);

    byte[] first = TrustStores.javaTrustStore(certs);
    byte[] second = TrustStores.javaTrustStore(certs);
    assertThat(second).isEqualTo(first);

    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(new ByteArrayInputStream(first), "changeit".toCharArray());
    assertThat(store.size()).isEqualTo(2);
    assertThat(store.isCertificateEntry(store.aliases().nextElement())).isTrue();

    String bundle = new String(TrustStores.pemBundle(certs));
    assertThat(bundle.split("-----BEGIN CERTIFICATE-----", -1)).hasSize(3);
  }
}
