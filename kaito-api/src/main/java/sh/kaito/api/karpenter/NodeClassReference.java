package sh.kaito.api.karpenter;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * {@code NodeClaim.spec.nodeClassRef}: the cloud-specific node class, e.g. {@code {group: kaito.sh,
 * kind: KaitoNodeClass, name: default}} on Azure.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record NodeClassReference(String group, String kind, String name) {}
