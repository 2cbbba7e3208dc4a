package sh.kaito.images;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The install, into the real local control plane: the kustomize base ({@code kubectl kustomize
 * deploy}) and the Helm chart ({@code helm template charts/kaito-java}) render the same objects,
 * and each output is applied server-side (no dry run) and accepted whole. Then the operator runs as
 * the installed service account (a token from the TokenRequest API, nothing else): it wins the
 * Lease, writes its webhook certificate and CA, and reconciles a Workspace into a NodeClaim, so the
 * RBAC holds what the code needs; a few things it must not do are checked to be refused.
 */
@WithControlPlane
class InstallIT {
  private static final String NS = "kaito-system";
  private static final String SA = "system:serviceaccount:kaito-system:kaito-controller";

  @TempDir Path tmp;

  @Test
  void kustomizeAndHelmInstallAndTheControllerRunsAsItsServiceAccount(
      KubernetesClient admin, ControlPlane cp) throws Exception {
    Path root = BuiltImages.repoRoot();
    ControlPlane.CommandResult kustomize =
        cp.kubectl("kustomize", root.resolve("deploy").toString());
    assertThat(kustomize.exitCode()).as(kustomize.output()).isZero();
    String helm = helmTemplate(root);

    // The same objects (kind/namespace/name) from both, Namespace aside (Helm's comes from
    // --create-namespace unless namespace.create is set).
    assertThat(objects(admin, helm)).isEqualTo(objects(admin, kustomize.stdout()));
    assertThat(objects(admin, kustomize.stdout()))
        .contains(
            "CustomResourceDefinition//workspaces.kaito.sh",
            "CustomResourceDefinition//nodeclaims.karpenter.sh",
            "Deployment/kaito-system/kaito-controller",
            "Deployment/kaito-system/kaito-provisioner",
            "DaemonSet/kaito-system/nvidia-device-plugin-daemonset",
            "ValidatingWebhookConfiguration//kaito-validating-webhook-configuration",
            "Service/kaito-system/kaito-workspace-webhook");

    apply(cp, kustomize.stdout(), "kaito-kustomize");
    apply(cp, helm, "kaito-helm");

    // Keep the operator's pods from being scheduled onto another test's fake nodes: this test runs
    // the operator itself below, and the webhook must not point at kwok's fake pod IPs.
    for (String d : List.of("kaito-controller", "kaito-provisioner")) {
      admin.apps().deployments().inNamespace(NS).withName(d).scale(0);
    }
    ValidatingWebhookConfiguration webhook =
        admin
            .admissionRegistration()
            .v1()
            .validatingWebhookConfigurations()
            .withName("kaito-validating-webhook-configuration")
            .get();
    var service = webhook.getWebhooks().get(0).getClientConfig().getService();
    assertThat(service.getName()).isEqualTo("kaito-workspace-webhook");
    assertThat(service.getNamespace()).isEqualTo(NS);
    assertThat(admin.services().inNamespace(NS).withName(service.getName()).get()).isNotNull();
    assertThat(
            admin.services().inNamespace(NS).withName(service.getName()).get().getSpec().getPorts())
        .anyMatch(p -> p.getPort().equals(service.getPort()));
    // Helm's image values reached the Deployment (applied last).
    assertThat(
            admin
                .apps()
                .deployments()
                .inNamespace(NS)
                .withName("kaito-controller")
                .get()
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0)
                .getImage())
        .isEqualTo("127.0.0.1:5000/kaito/kaito-controller:it");

    // No pod answers the webhook here: let the API server skip it while the operator runs outside.
    admin
        .admissionRegistration()
        .v1()
        .validatingWebhookConfigurations()
        .withName("kaito-validating-webhook-configuration")
        .edit(
            w -> {
              w.getWebhooks().forEach(h -> h.setFailurePolicy("Ignore"));
              return w;
            });

    // What the service account must not do.
    assertThat(canI(cp, "delete", "secrets", "-n", "default")).isEqualTo("no");
    assertThat(canI(cp, "create", "pods", "-n", NS)).isEqualTo("no");
    assertThat(canI(cp, "delete", "workspaces.kaito.sh", "-n", "default")).isEqualTo("no");
    assertThat(canI(cp, "update", "validatingwebhookconfigurations", "-A")).isEqualTo("no");

    Path kubeconfig = serviceAccountKubeconfig(cp, "kaito-controller");
    int health = BuiltImages.freePort();
    Path log = tmp.resolve("operator.log");
    Process operator = startOperator(kubeconfig, health, log);
    try {
      await(
          "the operator leading",
          Duration.ofSeconds(90),
          () -> read(log),
          t -> t.contains("event=ControllerStarted"),
          operator,
          log);
      await("/readyz", Duration.ofSeconds(30), () -> status(health), c -> c == 200, operator, log);
      assertThat(admin.secrets().inNamespace(NS).withName("workspace-webhook-cert").get())
          .isNotNull();
      assertThat(
              admin
                  .admissionRegistration()
                  .v1()
                  .validatingWebhookConfigurations()
                  .withName("kaito-validating-webhook-configuration")
                  .get()
                  .getWebhooks()
                  .get(0)
                  .getClientConfig()
                  .getCaBundle())
          .isNotBlank();

      String ns = TestNamespaces.create(admin, "install");
      String workspace =
          Files.readString(root.resolve("examples/inference/kaito_workspace_phi_3_mini_128k.yaml"))
              .replace("name: workspace-phi-3-mini", "name: ws-install\n  namespace: " + ns);
      Path workspaceFile = Files.writeString(tmp.resolve("workspace.yaml"), workspace);
      var applied = cp.kubectl("apply", "-f", workspaceFile.toString());
      assertThat(applied.exitCode()).as(applied.output()).isZero();
      await(
          "a NodeClaim for the workspace",
          Duration.ofSeconds(60),
          () -> nodeClaims(admin, "ws-install").size(),
          n -> n >= 1,
          operator,
          log);
      await(
          "workspace conditions",
          Duration.ofSeconds(30),
          () ->
              admin
                  .genericKubernetesResources("kaito.sh/v1beta1", "Workspace")
                  .inNamespace(ns)
                  .withName("ws-install")
                  .get()
                  .getAdditionalProperties()
                  .get("status"),
          s -> s != null && s.toString().contains("ResourceReady"),
          operator,
          log);
      assertThat(read(log)).doesNotContain("forbidden").doesNotContain("Forbidden");

      // The provisioner, as its own installed service account, turns that NodeClaim into a node.
      Path provisionerLog = tmp.resolve("provisioner.log");
      Process provisioner =
          startJava(
              provisionerLog,
              Map.of(),
              "sh.kaito.provisioner.ProvisionerMain",
              "--kubeconfig=" + serviceAccountKubeconfig(cp, "kaito-provisioner"),
              "--health-port=" + BuiltImages.freePort(),
              "--bind-address=127.0.0.1");
      try {
        await(
            "a node for the NodeClaim",
            Duration.ofSeconds(90),
            () -> {
              Set<String> claims = nodeClaims(admin, "ws-install");
              return admin.nodes().list().getItems().stream()
                  .filter(n -> n.getMetadata().getLabels() != null)
                  .filter(
                      n -> claims.contains(n.getMetadata().getLabels().get("kaito.sh/nodeclaim")))
                  .count();
            },
            n -> n >= 1,
            provisioner,
            provisionerLog);
        assertThat(read(provisionerLog)).doesNotContain("forbidden").doesNotContain("Forbidden");
      } finally {
        stop(provisioner);
      }
    } finally {
      stop(operator);
    }
  }

  /** Names of the NodeClaims labelled with the workspace. */
  private static Set<String> nodeClaims(KubernetesClient admin, String workspace) {
    Set<String> names = new TreeSet<>();
    for (var claim :
        admin.genericKubernetesResources("karpenter.sh/v1", "NodeClaim").list().getItems()) {
      Map<String, String> labels = claim.getMetadata().getLabels();
      if (labels != null && workspace.equals(labels.get("kaito.sh/workspace"))) {
        names.add(claim.getMetadata().getName());
      }
    }
    return names;
  }

  private static void stop(Process p) throws InterruptedException {
    p.destroy();
    if (!p.waitFor(20, TimeUnit.SECONDS)) {
      p.destroyForcibly();
    }
  }

  private String helmTemplate(Path root) throws Exception {
    String helm = BuiltImages.requiredPath("KAITO_HELM_BIN", "hack/setup/50-helm.sh").toString();
    Process p =
        new ProcessBuilder(
                helm,
                "template",
                "kaito",
                root.resolve("charts/kaito-java").toString(),
                "--namespace",
                NS,
                "--include-crds",
                "--set",
                "image.registry=127.0.0.1:5000/kaito",
                "--set",
                "image.tag=it")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  private void apply(ControlPlane cp, String manifests, String manager) throws Exception {
    Path file = Files.writeString(tmp.resolve(manager + ".yaml"), manifests);
    var r =
        cp.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=" + manager,
            "-f",
            file.toString());
    assertThat(r.exitCode()).as(r.output()).isZero();
    // One "serverside-applied" line per object: nothing skipped.
    long lines = r.stdout().lines().filter(l -> l.endsWith("serverside-applied")).count();
    assertThat(lines)
        .as(r.output())
        .isEqualTo(r.stdout().lines().filter(l -> !l.isBlank()).count());
  }

  private static Set<String> objects(KubernetesClient client, String yaml) {
    Set<String> out = new TreeSet<>();
    for (HasMetadata o :
        client.load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).items()) {
      if (o.getKind().equals("Namespace")) {
        continue;
      }
      String ns = o.getMetadata().getNamespace() == null ? "" : o.getMetadata().getNamespace();
      out.add(o.getKind() + "/" + ns + "/" + o.getMetadata().getName());
    }
    return out;
  }

  private static String canI(ControlPlane cp, String verb, String resource, String... scope) {
    List<String> args = new ArrayList<>(List.of("auth", "can-i", verb, resource, "--as=" + SA));
    args.addAll(List.of(scope));
    return cp.kubectl(args.toArray(String[]::new)).stdout().strip();
  }

  private Path serviceAccountKubeconfig(ControlPlane cp, String account) throws Exception {
    var token = cp.kubectl("create", "token", account, "-n", NS, "--duration=1h");
    assertThat(token.exitCode()).as(token.output()).isZero();
    Config admin = Config.fromKubeconfig(Files.readString(cp.kubeconfig()));
    String ca =
        admin.getCaCertData() != null
            ? admin.getCaCertData()
            : Base64.getEncoder()
                .encodeToString(Files.readAllBytes(Path.of(admin.getCaCertFile())));
    String yaml =
        "apiVersion: v1\nkind: Config\n"
            + "clusters: [{name: c, cluster: {server: '"
            + admin.getMasterUrl()
            + "', certificate-authority-data: "
            + ca
            + "}}]\n"
            + "users: [{name: sa, user: {token: "
            + token.stdout().strip()
            + "}}]\n"
            + "contexts: [{name: c, context: {cluster: c, user: sa}}]\ncurrent-context: c\n";
    return Files.writeString(tmp.resolve(account + ".kubeconfig"), yaml);
  }

  private Process startOperator(Path kubeconfig, int healthPort, Path log) throws Exception {
    return startJava(
        log,
        Map.of(
            "KUBECONFIG", kubeconfig.toString(),
            "KAITO_NAMESPACE", NS,
            "KAITO_LEADER_ELECT", "true",
            "KAITO_BIND_ADDRESS", "127.0.0.1",
            "KAITO_HEALTH_PORT", String.valueOf(healthPort),
            "KAITO_METRICS_PORT", String.valueOf(BuiltImages.freePort()),
            "KAITO_WEBHOOK_PORT", String.valueOf(BuiltImages.freePort())),
        "sh.kaito.controller.OperatorMain");
  }

  /** A child JVM on this test's classpath, with no cluster settings but the ones given. */
  private static Process startJava(
      Path log, Map<String, String> extraEnv, String mainClass, String... args) throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of(
                Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                System.getProperty("java.class.path"),
                mainClass));
    command.addAll(List.of(args));
    ProcessBuilder pb =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    var env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("KUBERNETES_") || k.equals("KUBECONFIG"));
    env.putAll(extraEnv);
    return pb.start();
  }

  private static int status(int port) {
    try {
      return HttpClient.newHttpClient()
          .send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/readyz"))
                  .timeout(Duration.ofSeconds(2))
                  .build(),
              HttpResponse.BodyHandlers.discarding())
          .statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  private static <T> void await(
      String what,
      Duration timeout,
      Supplier<T> probe,
      java.util.function.Predicate<T> done,
      Process process,
      Path log)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    T last = null;
    while (System.nanoTime() < deadline) {
      last = probe.get();
      if (done.test(last)) {
        return;
      }
      assertThat(process.isAlive()).as("operator exited:\n" + read(log)).isTrue();
      Thread.sleep(200);
    }
    throw new AssertionError(
        "no " + what + " within " + timeout + " (last: " + last + "):\n" + read(log));
  }

  private static String read(Path log) {
    try {
      return Files.readString(log);
    } catch (Exception e) {
      return "";
    }
  }
}
