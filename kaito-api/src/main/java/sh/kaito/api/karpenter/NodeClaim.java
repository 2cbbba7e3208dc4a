package sh.kaito.api.karpenter;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * Karpenter's {@code NodeClaim} ({@code karpenter.sh/v1}, cluster-scoped): a request for one node.
 * Kaito creates them; a provisioner (Karpenter, Azure's gpu-provisioner, or ours) makes the node
 * and reports back in {@link NodeClaimStatus}.
 *
 * <p>Only the fields Kaito reads or writes are typed; the CRD we ship for local clusters keeps
 * everything else. It deliberately does not implement {@link Namespaced}.
 */
@Group(NodeClaim.GROUP)
@Version(NodeClaim.VERSION)
@Kind("NodeClaim")
@Plural("nodeclaims")
@Singular("nodeclaim")
public class NodeClaim extends CustomResource<NodeClaimSpec, NodeClaimStatus> {
  public static final String GROUP = "karpenter.sh";
  public static final String VERSION = "v1";
  public static final String API_VERSION = GROUP + "/" + VERSION;
  public static final String CRD_NAME = "nodeclaims." + GROUP;

  @Override
  protected NodeClaimSpec initSpec() {
    return new NodeClaimSpec();
  }
}
