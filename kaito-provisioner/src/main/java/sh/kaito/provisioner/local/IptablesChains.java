package sh.kaito.provisioner.local;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads {@code iptables-save} output and writes the {@code iptables-restore --noflush} script that
 * removes the chains the kubelet and kube-proxy left (KUBE-FIREWALL hooked into INPUT and OUTPUT,
 * KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT, ...): rules in other chains that jump to them are
 * deleted, then the chains are flushed and deleted. Chains that existed before are left alone. Pure
 * functions.
 */
final class IptablesChains {
  private IptablesChains() {}

  /** Prefixes of the chains Kubernetes components and CNI plugins make. */
  private static final List<String> OURS = List.of("KUBE-", "CNI-");

  /** Every chain, as {@code table/chain}, sorted. */
  static Set<String> chains(String save) {
    Set<String> out = new TreeSet<>();
    String table = null;
    for (String line : save.lines().toList()) {
      if (line.startsWith("*")) {
        table = line.substring(1).strip();
      } else if (line.startsWith(":") && table != null) {
        out.add(table + "/" + line.substring(1).split(" ")[0]);
      }
    }
    return out;
  }

  /**
   * The restore script removing our chains that are not in {@code before}; empty when there are
   * none.
   */
  static String removalScript(String save, Set<String> before) {
    Map<String, Set<String>> doomed = new LinkedHashMap<>();
    Map<String, List<String>> unhook = new LinkedHashMap<>();
    String table = null;
    for (String line : save.lines().toList()) {
      if (line.startsWith("*")) {
        table = line.substring(1).strip();
      } else if (line.startsWith(":") && table != null) {
        String chain = line.substring(1).split(" ")[0];
        if (ours(chain) && !before.contains(table + "/" + chain)) {
          doomed.computeIfAbsent(table, t -> new LinkedHashSet<>()).add(chain);
        }
      }
    }
    table = null;
    for (String line : save.lines().toList()) {
      if (line.startsWith("*")) {
        table = line.substring(1).strip();
      } else if (line.startsWith("-A ") && table != null && doomed.containsKey(table)) {
        String[] words = line.split(" ");
        String chain = words[1];
        String target = target(words);
        if (!doomed.get(table).contains(chain)
            && target != null
            && doomed.get(table).contains(target)) {
          unhook.computeIfAbsent(table, t -> new ArrayList<>()).add("-D" + line.substring(2));
        }
      }
    }
    StringBuilder script = new StringBuilder();
    for (var e : doomed.entrySet()) {
      script.append('*').append(e.getKey()).append('\n');
      for (String rule : unhook.getOrDefault(e.getKey(), List.of())) {
        script.append(rule).append('\n');
      }
      for (String chain : e.getValue()) {
        script.append("-F ").append(chain).append('\n');
      }
      for (String chain : e.getValue()) {
        script.append("-X ").append(chain).append('\n');
      }
      script.append("COMMIT\n");
    }
    return script.toString();
  }

  private static boolean ours(String chain) {
    return OURS.stream().anyMatch(chain::startsWith);
  }

  private static String target(String[] words) {
    for (int i = 0; i + 1 < words.length; i++) {
      if (words[i].equals("-j") || words[i].equals("-g")) {
        return words[i + 1];
      }
    }
    return null;
  }
}
