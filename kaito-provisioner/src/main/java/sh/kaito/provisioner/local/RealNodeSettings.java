package sh.kaito.provisioner.local;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How {@link LocalRealCloudProvider} makes real nodes on this machine.
 *
 * @param stateDir where each node keeps its containerd, kubelet, CNI and log folders, one folder a
 *     node; a unix socket lives there, so the path must stay short (under about 60 characters)
 * @param bridge name of the Linux bridge all pods hang off (made if missing)
 * @param subnet the bridge's IPv4 /24 (or wider); its first address is the gateway, the node IP of
 *     every node and the address kubelets listen on
 * @param serviceCidr the cluster's Service CIDR, routed onto the bridge; empty: read from the API
 *     server's {@code ServiceCIDR} named {@code kubernetes}
 * @param kubeconfig the kubeconfig kubelets and kube-proxy use (a client the cluster authorizes to
 *     act as a node); its CA also verifies the API server's client certificate on kubelet calls
 * @param pauseImage the sandbox image every node's containerd uses (ours, in a local registry)
 * @param plainHttpRegistries {@code host:port} registries pulled over plain HTTP, explicitly
 * @param registryCas {@code host:port} → CA file: registries pulled over TLS with that CA
 * @param registryAuths {@code host:port} → credentials containerd sends to that registry (for the
 *     sandbox image too, which the kubelet's pull secrets never reach)
 * @param binaries kubelet, kube-proxy, containerd and the CNI plugins' folder
 */
public record RealNodeSettings(
    Path stateDir,
    String bridge,
    Subnet subnet,
    Optional<String> serviceCidr,
    Path kubeconfig,
    String pauseImage,
    List<String> plainHttpRegistries,
    Map<String, Path> registryCas,
    Map<String, RegistryAuth> registryAuths,
    Binaries binaries) {

  public static final String DEFAULT_STATE_DIR = "/var/lib/kaito-real-nodes";
  public static final String DEFAULT_BRIDGE = "kaito0";
  public static final String DEFAULT_SUBNET = "10.88.0.0/24";

  public RealNodeSettings {
    plainHttpRegistries = List.copyOf(plainHttpRegistries);
    registryCas = Map.copyOf(registryCas);
    registryAuths = Map.copyOf(registryAuths);
    if (!bridge.matches("[a-zA-Z0-9_.-]{1,15}")) {
      throw new IllegalArgumentException(
          "bridge name must be 1 to 15 letters, digits, '.', '-' or '_', got " + bridge);
    }
    for (String r : plainHttpRegistries) {
      hostPort(r);
    }
    registryCas.keySet().forEach(RealNodeSettings::hostPort);
  }

  /** A registry login as Docker's config.json keeps it: base64 of {@code user:password}. */
  public record RegistryAuth(String base64) {
    @Override
    public String toString() {
      return "RegistryAuth[***]";
    }
  }

  /**
   * The logins of a Docker {@code config.json} ({@code auths.<host>.auth}, or {@code username} and
   * {@code password}), by registry host.
   *
   * @throws IllegalArgumentException when the file cannot be read or has no usable login
   */
  public static Map<String, RegistryAuth> dockerConfigAuths(Path configJson) {
    com.fasterxml.jackson.databind.JsonNode auths;
    try {
      auths =
          new com.fasterxml.jackson.databind.ObjectMapper()
              .readTree(configJson.toFile())
              .path("auths");
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException(
          "cannot read the Docker config " + configJson + ": " + e.getMessage());
    }
    Map<String, RegistryAuth> out = new java.util.TreeMap<>();
    auths
        .fields()
        .forEachRemaining(
            e -> {
              String host = e.getKey().replaceFirst("^https?://", "").replaceFirst("/.*$", "");
              String auth = e.getValue().path("auth").asText("");
              if (auth.isEmpty() && e.getValue().has("username")) {
                auth =
                    java.util.Base64.getEncoder()
                        .encodeToString(
                            (e.getValue().path("username").asText()
                                    + ":"
                                    + e.getValue().path("password").asText())
                                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
              }
              if (!auth.isEmpty()) {
                out.put(host, new RegistryAuth(auth));
              }
            });
    if (out.isEmpty()) {
      throw new IllegalArgumentException(
          "the Docker config " + configJson + " has no login under \"auths\"");
    }
    return out;
  }

  /** The executables a real node needs, and where the CNI plugins are. */
  public record Binaries(Path kubelet, Path kubeProxy, Path containerd, Path cniBinDir) {

    /**
     * From {@code KAITO_KUBELET_BIN}, {@code KAITO_KUBE_PROXY_BIN} (hack/setup/10-controlplane.sh),
     * {@code KAITO_CONTAINERD_BIN} and {@code KAITO_CNI_BIN_DIR} (hack/setup/45-containerd.sh);
     * containerd and the plugins fall back to Debian's paths.
     *
     * @throws IllegalArgumentException naming every one that is missing
     */
    public static Binaries fromEnvironment(Map<String, String> env) {
      Path kubelet = path(env, "KAITO_KUBELET_BIN", null);
      Path proxy = path(env, "KAITO_KUBE_PROXY_BIN", null);
      Path containerd = path(env, "KAITO_CONTAINERD_BIN", "/usr/bin/containerd");
      Path cni = path(env, "KAITO_CNI_BIN_DIR", "/usr/lib/cni");
      StringBuilder missing = new StringBuilder();
      check(missing, "KAITO_KUBELET_BIN (source hack/setup/10-controlplane.sh)", kubelet);
      check(missing, "KAITO_KUBE_PROXY_BIN (source hack/setup/10-controlplane.sh)", proxy);
      check(missing, "KAITO_CONTAINERD_BIN (source hack/setup/45-containerd.sh)", containerd);
      if (cni == null || !Files.isExecutable(cni.resolve("bridge"))) {
        missing.append(
            "\n  KAITO_CNI_BIN_DIR with the bridge plugin (hack/setup/45-containerd.sh)");
      }
      if (!missing.isEmpty()) {
        throw new IllegalArgumentException("real nodes need these binaries:" + missing);
      }
      return new Binaries(kubelet, proxy, containerd, cni);
    }

    private static Path path(Map<String, String> env, String name, String fallback) {
      String v = env.get(name);
      if (v == null || v.isBlank()) {
        v = fallback;
      }
      return v == null ? null : Path.of(v);
    }

    private static void check(StringBuilder missing, String what, Path p) {
      if (p == null || !Files.isExecutable(p)) {
        missing.append("\n  ").append(what).append(p == null ? "" : ": " + p + " is missing");
      }
    }
  }

  /** An IPv4 subnet; the gateway is its first address. */
  public record Subnet(int network, int prefix) {
    public Subnet {
      if (prefix < 8 || prefix > 28) {
        throw new IllegalArgumentException("the bridge subnet needs a prefix of 8 to 28 bits");
      }
      if ((network & ~mask(prefix)) != 0) {
        throw new IllegalArgumentException(
            "the bridge subnet " + format(network) + "/" + prefix + " has host bits set");
      }
    }

    public static Subnet parse(String cidr) {
      String[] parts = cidr.split("/");
      if (parts.length != 2) {
        throw new IllegalArgumentException(
            "expected an IPv4 CIDR such as 10.88.0.0/24, got " + cidr);
      }
      int prefix;
      try {
        prefix = Integer.parseInt(parts[1]);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad prefix length in " + cidr);
      }
      return new Subnet(address(parts[0]), prefix);
    }

    public String cidr() {
      return format(network) + "/" + prefix;
    }

    public String gateway() {
      return format(network + 1);
    }

    /** The gateway with the prefix, as {@code ip addr add} takes it. */
    public String gatewayCidr() {
      return gateway() + "/" + prefix;
    }

    private static int mask(int prefix) {
      return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    static int address(String dotted) {
      String[] octets = dotted.split("\\.");
      if (octets.length != 4) {
        throw new IllegalArgumentException("not an IPv4 address: " + dotted);
      }
      int a = 0;
      for (String o : octets) {
        int v;
        try {
          v = Integer.parseInt(o);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("not an IPv4 address: " + dotted);
        }
        if (v < 0 || v > 255) {
          throw new IllegalArgumentException("not an IPv4 address: " + dotted);
        }
        a = (a << 8) | v;
      }
      return a;
    }

    static String format(int a) {
      return (a >>> 24) + "." + ((a >>> 16) & 255) + "." + ((a >>> 8) & 255) + "." + (a & 255);
    }
  }

  private static void hostPort(String r) {
    if (!r.matches("[A-Za-z0-9.-]+:[0-9]{1,5}")) {
      throw new IllegalArgumentException("a registry is host:port, got " + r);
    }
  }
}
