package sh.kaito.provisioner;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import sh.kaito.provisioner.lifecycle.NodeClaimController;
import sh.kaito.provisioner.lifecycle.Timings;
import sh.kaito.provisioner.local.RealNodeSettings;

/**
 * Command-line options of {@link ProvisionerMain}.
 *
 * @param provider {@code fake} (kwok GPU nodes), {@code azure} (AKS agent pools, configured from
 *     gpu-provisioner's environment variables, see {@code AzureConfig}) or {@code local-real} (real
 *     kubelets with their own containerd on this machine, as root; {@link #realNodes})
 * @param kubeconfig a kubeconfig file, or null for fabric8's usual lookup ({@code KUBECONFIG},
 *     {@code ~/.kube/config}, in-cluster service account)
 * @param healthPort port of {@code /healthz} and {@code /readyz} on {@code bindAddress}, 0 for none
 * @param metricsPort port of Prometheus {@code /metrics} on {@code bindAddress}, 0 for none
 * @param leaderElect run the controller only while holding the Lease {@code kaito-provisioner} in
 *     {@code leaderElectionNamespace}
 */
public record ProvisionerOptions(
    String provider,
    String kubeconfig,
    int healthPort,
    String bindAddress,
    NodeClaimController.Options controller,
    int metricsPort,
    boolean leaderElect,
    String leaderElectionNamespace,
    RealNodeOptions realNodes) {

  /**
   * The {@code --real-node-*} flags of {@code --provider=local-real} (docs/provisioner.md).
   *
   * @param pauseImage the sandbox image every node's containerd uses; required for local-real
   * @param plainHttpRegistries {@code host:port}s containerd pulls from over plain HTTP
   * @param registryCas {@code host:port} → CA file, for registries served over TLS
   * @param dockerConfig a Docker {@code config.json} whose logins containerd uses, or null
   */
  public record RealNodeOptions(
      String stateDir,
      String bridge,
      String subnet,
      String serviceCidr,
      String pauseImage,
      List<String> plainHttpRegistries,
      Map<String, String> registryCas,
      String dockerConfig) {
    public RealNodeOptions {
      plainHttpRegistries = List.copyOf(plainHttpRegistries);
      registryCas = Map.copyOf(registryCas);
    }
  }

  static final String USAGE =
      """
      usage: ProvisionerMain [--provider=fake|azure|local-real] [--kubeconfig=PATH]
                             [--health-port=N] [--bind-address=ADDR] [--metrics-port=N]
                             [--leader-elect=BOOL] [--leader-election-namespace=NS] [--workers=N]
                             [--gc-interval-seconds=N] [--registration-ttl-seconds=N]
                             [--real-node-...=...]
        --provider             cloud provider: fake (kwok GPU nodes from the Azure SKU table),
                               azure (AKS agent pools; ARM_SUBSCRIPTION_ID, ARM_RESOURCE_GROUP,
                               AZURE_CLUSTER_NAME, AZURE_TENANT_ID, AZURE_CLIENT_ID and
                               AZURE_FEDERATED_TOKEN_FILE or AZURE_CLIENT_SECRET from the env) or
                               local-real (a real kubelet + containerd per claim on this machine,
                               as root; KAITO_KUBELET_BIN, KAITO_KUBE_PROXY_BIN from the env)
        --real-node-pause-image    local-real: the sandbox image (required), from a local registry
        --real-node-insecure-registries  local-real: host:port[,host:port] pulled over plain HTTP
        --real-node-registry-cas   local-real: host:port=CA-file[,...] pulled over TLS with that CA
        --real-node-docker-config  local-real: a Docker config.json whose logins containerd uses
        --real-node-dir            local-real: the nodes' folders (default /var/lib/kaito-real-nodes)
        --real-node-bridge         local-real: the pods' bridge (default kaito0)
        --real-node-subnet         local-real: the bridge's subnet; its first address is the node
                                   IP (default 10.88.0.0/24)
        --real-node-service-cidr   local-real: routed onto the bridge (default: the cluster's)
        --kubeconfig           kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)
        --health-port          serve /healthz and /readyz on this port (default 0: off)
        --bind-address         address for the health server (default 0.0.0.0)
        --metrics-port         serve Prometheus /metrics on this port (default 0: off)
        --leader-elect         true: act only while holding the Lease kaito-provisioner (default false)
        --leader-election-namespace  the Lease's namespace (default kaito-system)
        --workers              reconcile threads (default 2)
        --gc-interval-seconds  how often to delete machines whose NodeClaim is gone (default 120)
        --registration-ttl-seconds
                               delete a NodeClaim whose node has not registered this long after
                               launch, with its machine (default 900, Karpenter's)
      """;

  /**
   * Parses {@code --key=value} arguments.
   *
   * @throws IllegalArgumentException with a message for the user on a bad argument
   */
  public static ProvisionerOptions parse(List<String> args) {
    String provider = "fake";
    String kubeconfig = null;
    int healthPort = 0;
    int metricsPort = 0;
    boolean leaderElect = false;
    String leaseNamespace = "kaito-system";
    String bind = "0.0.0.0";
    NodeClaimController.Options c = NodeClaimController.Options.defaults();
    int workers = c.workers();
    Duration gcInterval = c.gcInterval();
    Timings timings = c.timings();
    String realDir = RealNodeSettings.DEFAULT_STATE_DIR;
    String realBridge = RealNodeSettings.DEFAULT_BRIDGE;
    String realSubnet = RealNodeSettings.DEFAULT_SUBNET;
    String realServiceCidr = null;
    String pauseImage = null;
    String dockerConfig = null;
    List<String> plainHttp = new ArrayList<>();
    Map<String, String> cas = new LinkedHashMap<>();
    for (String arg : args) {
      int eq = arg.indexOf('=');
      if (!arg.startsWith("--") || eq < 0) {
        throw new IllegalArgumentException("expected --key=value, got: " + arg);
      }
      String key = arg.substring(2, eq);
      String value = arg.substring(eq + 1);
      switch (key) {
        case "provider" -> provider = value;
        case "kubeconfig" -> kubeconfig = value.isEmpty() ? null : value;
        case "health-port" -> healthPort = number(key, value, 0, 65535);
        case "bind-address" -> bind = value;
        case "metrics-port" -> metricsPort = number(key, value, 0, 65535);
        case "leader-elect" -> leaderElect = bool(key, value);
        case "leader-election-namespace" -> leaseNamespace = value;
        case "workers" -> workers = number(key, value, 1, 64);
        case "gc-interval-seconds" ->
            gcInterval = Duration.ofSeconds(number(key, value, 1, 86_400));
        case "registration-ttl-seconds" ->
            timings =
                new Timings(
                    Duration.ofSeconds(number(key, value, 1, 86_400)),
                    timings.pollLaunch(),
                    timings.pollDelete(),
                    timings.backoffBase(),
                    timings.backoffMax());
        case "real-node-dir" -> realDir = value;
        case "real-node-bridge" -> realBridge = value;
        case "real-node-subnet" -> realSubnet = value;
        case "real-node-service-cidr" -> realServiceCidr = value.isEmpty() ? null : value;
        case "real-node-pause-image" -> pauseImage = value.isEmpty() ? null : value;
        case "real-node-docker-config" -> dockerConfig = value.isEmpty() ? null : value;
        case "real-node-insecure-registries" -> plainHttp.addAll(list(value));
        case "real-node-registry-cas" -> {
          for (String pair : list(value)) {
            int at = pair.indexOf('=');
            if (at < 1 || at == pair.length() - 1) {
              throw new IllegalArgumentException(
                  "--real-node-registry-cas takes host:port=CA-file pairs, got " + pair);
            }
            cas.put(pair.substring(0, at), pair.substring(at + 1));
          }
        }
        default -> throw new IllegalArgumentException("unknown option --" + key);
      }
    }
    if (!List.of("fake", "azure", "local-real").contains(provider)) {
      throw new IllegalArgumentException(
          "unknown provider " + provider + "; supported: fake, azure, local-real");
    }
    if (provider.equals("local-real") && pauseImage == null) {
      throw new IllegalArgumentException(
          "--provider=local-real needs --real-node-pause-image=<registry>/kaito-pause:<tag>");
    }
    return new ProvisionerOptions(
        provider,
        kubeconfig,
        healthPort,
        bind,
        new NodeClaimController.Options(workers, gcInterval, c.gcGrace(), timings),
        metricsPort,
        leaderElect,
        leaseNamespace,
        new RealNodeOptions(
            realDir,
            realBridge,
            realSubnet,
            realServiceCidr,
            pauseImage,
            plainHttp,
            cas,
            dockerConfig));
  }

  private static List<String> list(String value) {
    return java.util.Arrays.stream(value.split(","))
        .map(String::strip)
        .filter(v -> !v.isEmpty())
        .toList();
  }

  private static boolean bool(String key, String value) {
    return switch (value) {
      case "true" -> true;
      case "false" -> false;
      default ->
          throw new IllegalArgumentException("--" + key + " must be true or false, got " + value);
    };
  }

  private static int number(String key, String value, int min, int max) {
    try {
      int n = Integer.parseInt(value);
      if (n < min || n > max) {
        throw new IllegalArgumentException(
            "--" + key + " must be between " + min + " and " + max + ", got " + value);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + key + " must be a number, got " + value);
    }
  }
}
