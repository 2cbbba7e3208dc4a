package sh.kaito.provisioner.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.api.Test;

class IptablesChainsTest {
  /** What iptables-save printed here after a kubelet and kube-proxy ran (abridged). */
  private static final String AFTER =
      """
      *mangle
      :PREROUTING ACCEPT [0:0]
      :KUBE-IPTABLES-HINT - [0:0]
      :KUBE-KUBELET-CANARY - [0:0]
      COMMIT
      *filter
      :INPUT ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      :KUBE-FIREWALL - [0:0]
      :KUBE-KUBELET-CANARY - [0:0]
      :MINE - [0:0]
      :KUBE-OLD - [0:0]
      -A INPUT -j KUBE-FIREWALL
      -A OUTPUT -j KUBE-FIREWALL
      -A OUTPUT -j MINE
      -A MINE -j KUBE-OLD
      -A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
      COMMIT
      """;

  @Test
  void newKubernetesChainsAreUnhookedFlushedAndDeletedAndOthersStay() {
    String script = IptablesChains.removalScript(AFTER, Set.of("filter/KUBE-OLD", "filter/MINE"));
    assertThat(script)
        .isEqualTo(
            """
            *mangle
            -F KUBE-IPTABLES-HINT
            -F KUBE-KUBELET-CANARY
            -X KUBE-IPTABLES-HINT
            -X KUBE-KUBELET-CANARY
            COMMIT
            *filter
            -D INPUT -j KUBE-FIREWALL
            -D OUTPUT -j KUBE-FIREWALL
            -F KUBE-FIREWALL
            -F KUBE-KUBELET-CANARY
            -X KUBE-FIREWALL
            -X KUBE-KUBELET-CANARY
            COMMIT
            """);
  }

  @Test
  void nothingNewMeansNoScript() {
    assertThat(IptablesChains.removalScript(AFTER, IptablesChains.chains(AFTER))).isEmpty();
    assertThat(IptablesChains.chains(AFTER))
        .contains("filter/KUBE-FIREWALL", "mangle/KUBE-IPTABLES-HINT", "filter/INPUT");
  }
}
