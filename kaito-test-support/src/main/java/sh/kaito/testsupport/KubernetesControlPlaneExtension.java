package sh.kaito.testsupport;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives tests a real Kubernetes control plane, one per test run (JVM), with the project's CRDs
 * installed. Use it through {@link WithControlPlane}; test methods, constructors and lifecycle
 * methods may declare {@link KubernetesClient} and {@link ControlPlane} parameters.
 *
 * <p>Which control plane: the one named by {@code KAITO_TEST_KUBECONFIG} or else {@code
 * KUBECONFIG}, if either is set (it is used as it is and never stopped); otherwise one started with
 * {@code hack/cluster/up} into {@code target/kaito-controlplane} of the module under test and
 * stopped with {@code hack/cluster/down} when the run ends. Its logs stay in {@code
 * target/kaito-controlplane/logs}.
 */
public final class KubernetesControlPlaneExtension implements BeforeAllCallback, ParameterResolver {

  private static final Logger LOG =
      Logger.getLogger(KubernetesControlPlaneExtension.class.getName());
  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(KubernetesControlPlaneExtension.class);

  @Override
  public void beforeAll(ExtensionContext context) {
    shared(context);
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    return type == KubernetesClient.class || type == ControlPlane.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    Shared shared = shared(context);
    return parameter.getParameter().getType() == ControlPlane.class
        ? shared.controlPlane()
        : shared.client();
  }

  /** The root store closes what it holds at the end of the run, once, after every test class. */
  private static Shared shared(ExtensionContext context) {
    return context
        .getRoot()
        .getStore(NAMESPACE)
        .getOrComputeIfAbsent(Shared.class, k -> Shared.open(), Shared.class);
  }

  /** The control plane and one client for it, shared by every test class of the run. */
  record Shared(ControlPlane controlPlane, KubernetesClient client, List<String> crds)
      implements AutoCloseable {

    static Shared open() {
      ControlPlane controlPlane = connectOrStart();
      // A JVM ended by a signal skips the store's close; the hook still stops our processes.
      if (controlPlane.owned()) {
        Runtime.getRuntime()
            .addShutdownHook(new Thread(controlPlane::stop, "kaito-controlplane-stop"));
      }
      KubernetesClient client = controlPlane.newClient();
      try {
        List<String> crds = Crds.install(client);
        LOG.info("control plane ready kubeconfig=" + controlPlane.kubeconfig() + " crds=" + crds);
        return new Shared(controlPlane, client, crds);
      } catch (RuntimeException e) {
        client.close();
        controlPlane.stop();
        throw e;
      }
    }

    private static ControlPlane connectOrStart() {
      for (String variable : List.of("KAITO_TEST_KUBECONFIG", "KUBECONFIG")) {
        String value = System.getenv(variable);
        if (value != null && !value.isBlank()) {
          LOG.info("using the control plane named by " + variable + "=" + value);
          return ControlPlane.existing(Path.of(value));
        }
      }
      Path root =
          RepoRoot.find()
              .orElseThrow(
                  () ->
                      new IllegalStateException(
                          "no KUBECONFIG set and no hack/cluster/up above "
                              + RepoRoot.workingDir()));
      return ControlPlane.start(root, stateDir());
    }

    private static Path stateDir() {
      Path target = RepoRoot.workingDir().resolve("target");
      Path base =
          Files.isDirectory(target) ? target : Path.of(System.getProperty("java.io.tmpdir"));
      return base.resolve("kaito-controlplane");
    }

    @Override
    public void close() {
      try {
        client.close();
      } finally {
        controlPlane.stop();
      }
    }
  }
}
