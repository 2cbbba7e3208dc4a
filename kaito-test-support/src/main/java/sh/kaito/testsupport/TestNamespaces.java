package sh.kaito.testsupport;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Locale;
import java.util.UUID;

/** Namespaces of their own for tests, so tests sharing one control plane never see each other. */
public final class TestNamespaces {

  private TestNamespaces() {}

  /** Creates a namespace named {@code <prefix>-<random>} and returns its name. */
  public static String create(KubernetesClient client, String prefix) {
    String name =
        (prefix + "-" + UUID.randomUUID().toString().substring(0, 8)).toLowerCase(Locale.ROOT);
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .create();
    return name;
  }

  /** A name for a cluster-scoped test object (a node), unique within the run. */
  public static String uniqueName(String prefix) {
    return (prefix + "-" + UUID.randomUUID().toString().substring(0, 8)).toLowerCase(Locale.ROOT);
  }
}
