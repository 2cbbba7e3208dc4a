package sh.kaito.provisioner.local;

import io.fabric8.kubernetes.api.model.Taint;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The configuration files of one real node and of the machine's kube-proxy, as
 * ../shared/reference/real-node-recipe.md checked them. Pure functions of their inputs.
 */
final class RealNodeFiles {
  private RealNodeFiles() {}

  /** Where the files of one node live, all under {@code dir}. */
  record Layout(Path dir) {
    Path containerdConfig() {
      return dir.resolve("containerd.toml");
    }

    Path containerdSocket() {
      return dir.resolve("containerd.sock");
    }

    Path containerdRoot() {
      return dir.resolve("containerd");
    }

    Path containerdState() {
      return dir.resolve("state");
    }

    Path runcRoot() {
      return dir.resolve("runc");
    }

    Path cniConfDir() {
      return dir.resolve("cni");
    }

    Path registryHosts() {
      return dir.resolve("certs.d");
    }

    Path kubeletConfig() {
      return dir.resolve("kubelet.yaml");
    }

    Path kubeletRoot() {
      return dir.resolve("kubelet");
    }

    Path kubeletCerts() {
      return dir.resolve("pki");
    }

    Path podLogs() {
      return dir.resolve("pod-logs");
    }

    Path clientCa() {
      return dir.resolve("client-ca.crt");
    }

    Path log(String process) {
      return dir.resolve(process + ".log");
    }
  }

  /**
   * containerd with its own root, state and sockets; the CRI plugin's sandbox image is ours, its
   * network namespaces live under its state, runc keeps its state under the node's folder, and
   * images come only through the registry host files of {@link #registryHosts}, with the given
   * logins (the file then holds secrets: it is written owner-only).
   */
  static String containerdConfig(
      Layout l,
      String pauseImage,
      Path cniBinDir,
      Map<String, RealNodeSettings.RegistryAuth> auths) {
    StringBuilder logins = new StringBuilder();
    auths.forEach(
        (host, auth) ->
            logins
                .append("    [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"")
                .append(host)
                .append("\".auth]\n      auth = \"")
                .append(auth.base64())
                .append("\"\n"));
    return """
        version = 2
        root = "%1$s"
        state = "%2$s"
        [grpc]
          address = "%3$s"
        [ttrpc]
          address = "%3$s.ttrpc"
        [plugins."io.containerd.internal.v1.opt"]
          path = "%1$s/opt"
        [plugins."io.containerd.grpc.v1.cri"]
          sandbox_image = "%4$s"
          # the kernel here refuses lowering oom_score_adj (runc: "can't get final child's PID")
          restrict_oom_score_adj = true
          netns_mounts_under_state_dir = true
          stream_server_address = "127.0.0.1"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
            runtime_type = "io.containerd.runc.v2"
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
              Root = "%5$s"
          [plugins."io.containerd.grpc.v1.cri".cni]
            bin_dir = "%6$s"
            conf_dir = "%7$s"
          [plugins."io.containerd.grpc.v1.cri".registry]
            config_path = "%8$s"
        """
            .formatted(
                l.containerdRoot(),
                l.containerdState(),
                l.containerdSocket(),
                pauseImage,
                l.runcRoot(),
                cniBinDir,
                l.cniConfDir(),
                l.registryHosts())
        + logins;
  }

  /**
   * containerd's {@code hosts.toml} for one registry: plain HTTP when {@code ca} is null (said
   * explicitly, never a fallback from TLS), else TLS verified with that CA.
   */
  static String registryHost(String hostPort, Path ca) {
    String server = (ca == null ? "http://" : "https://") + hostPort;
    StringBuilder toml =
        new StringBuilder()
            .append("server = \"")
            .append(server)
            .append("\"\n[host.\"")
            .append(server)
            .append("\"]\n  capabilities = [\"pull\", \"resolve\"]\n");
    if (ca != null) {
      toml.append("  ca = \"").append(ca).append("\"\n");
    }
    return toml.toString();
  }

  /**
   * The CNI network: the shared bridge as the pods' gateway, no masquerading (traffic stays on this
   * machine), host-local addresses from one store all nodes share (so two nodes never hand out the
   * same address).
   */
  static String cniConflist(String bridge, RealNodeSettings.Subnet subnet, Path ipamDir) {
    return """
        {
          "cniVersion": "0.4.0",
          "name": "kaito-real",
          "plugins": [
            {
              "type": "bridge",
              "bridge": "%s",
              "isGateway": true,
              "ipMasq": false,
              "hairpinMode": true,
              "ipam": {
                "type": "host-local",
                "dataDir": "%s",
                "ranges": [[{"subnet": "%s", "gateway": "%s"}]],
                "routes": [{"dst": "0.0.0.0/0"}]
              }
            }
          ]
        }
        """
        .formatted(bridge, ipamDir, subnet.cidr(), subnet.gateway());
  }

  /**
   * The kubelet's configuration: cgroup v1 and cgroupfs as this machine has them, no QoS cgroups or
   * eviction, listening on the bridge's gateway (node IPs may not be loopback), client certificates
   * from the cluster's CA and webhook authorization (the API server calls it for logs and exec),
   * the claim's taints from the start.
   */
  static String kubeletConfig(
      Layout l, String gateway, int port, int healthzPort, String providerID, List<Taint> taints) {
    String taintYaml =
        taints.isEmpty()
            ? "[]"
            : taints.stream()
                .map(
                    t ->
                        "\n  - {key: "
                            + quote(t.getKey())
                            + (t.getValue() == null ? "" : ", value: " + quote(t.getValue()))
                            + ", effect: "
                            + t.getEffect()
                            + "}")
                .collect(Collectors.joining());
    return """
        apiVersion: kubelet.config.k8s.io/v1beta1
        kind: KubeletConfiguration
        failCgroupV1: false
        cgroupDriver: cgroupfs
        cgroupsPerQOS: false
        enforceNodeAllocatable: []
        failSwapOn: false
        address: %s
        port: %d
        readOnlyPort: 0
        healthzBindAddress: 127.0.0.1
        healthzPort: %d
        authentication:
          anonymous: {enabled: false}
          webhook: {enabled: true}
          x509: {clientCAFile: %s}
        authorization: {mode: Webhook}
        resolvConf: ""
        containerRuntimeEndpoint: unix://%s
        localStorageCapacityIsolation: false
        evictionHard: {}
        imageGCHighThresholdPercent: 100
        imageGCLowThresholdPercent: 99
        podLogsDir: %s
        providerID: %s
        registerWithTaints: %s
        """
        .formatted(
            gateway,
            port,
            healthzPort,
            l.clientCa(),
            l.containerdSocket(),
            l.podLogs(),
            providerID,
            taintYaml);
  }

  /** The kubelet's command line. */
  static List<String> kubeletArgs(
      Path kubelet, Layout l, Path kubeconfig, String nodeName, String nodeIp) {
    return List.of(
        kubelet.toString(),
        "--config=" + l.kubeletConfig(),
        "--kubeconfig=" + kubeconfig,
        "--root-dir=" + l.kubeletRoot(),
        "--cert-dir=" + l.kubeletCerts(),
        "--hostname-override=" + nodeName,
        "--node-ip=" + nodeIp,
        "--v=1");
  }

  /**
   * kube-proxy in iptables mode for the bridge's pods, every endpoint on 127.0.0.1, touching no
   * conntrack or localhost-NodePort sysctl; masquerading all Service traffic, so a pod calling a
   * Service whose endpoint sits on the same bridge gets its answer back through the host.
   */
  static String kubeProxyConfig(
      Path kubeconfig, String clusterCidr, String hostname, int healthzPort, int metricsPort) {
    return """
        apiVersion: kubeproxy.config.k8s.io/v1alpha1
        kind: KubeProxyConfiguration
        clientConnection: {kubeconfig: %s}
        mode: iptables
        clusterCIDR: %s
        hostnameOverride: %s
        bindAddress: 127.0.0.1
        healthzBindAddress: 127.0.0.1:%d
        metricsBindAddress: 127.0.0.1:%d
        conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
        iptables: {masqueradeAll: true, localhostNodePorts: false}
        """
        .formatted(kubeconfig, clusterCidr, hostname, healthzPort, metricsPort);
  }

  /** Every registry's hosts.toml, by {@code host:port} folder name. */
  static Map<String, String> registryHosts(RealNodeSettings s) {
    Map<String, String> out = new java.util.TreeMap<>();
    for (String r : s.plainHttpRegistries()) {
      out.put(r, registryHost(r, null));
    }
    s.registryCas().forEach((r, ca) -> out.put(r, registryHost(r, ca)));
    return out;
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
