/**
 * The wire contract of Kaito: the {@code Workspace} custom resource (group {@code kaito.sh}, served
 * as {@code v1alpha1} and {@code v1beta1}), Karpenter's {@code NodeClaim}, condition types and
 * reasons, well-known labels and annotations, and pure validation with upstream's messages.
 *
 * <p>Packages: {@link sh.kaito.api.v1beta1} (Workspace types and constants), {@link
 * sh.kaito.api.karpenter} (NodeClaim), {@link sh.kaito.api.conditions} (condition helper), {@link
 * sh.kaito.api.validation} (admission rules without I/O), {@link sh.kaito.api.yaml} (strict YAML
 * reading and writing), {@link sh.kaito.api.client} (typed fabric8 helpers).
 */
package sh.kaito.api;
