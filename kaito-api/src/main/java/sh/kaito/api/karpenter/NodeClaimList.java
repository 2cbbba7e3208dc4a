package sh.kaito.api.karpenter;

import io.fabric8.kubernetes.api.model.DefaultKubernetesResourceList;

/** A list of {@link NodeClaim}s. */
public class NodeClaimList extends DefaultKubernetesResourceList<NodeClaim> {}
