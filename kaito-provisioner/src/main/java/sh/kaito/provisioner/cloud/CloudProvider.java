package sh.kaito.provisioner.cloud;

import java.util.List;
import java.util.Optional;
import sh.kaito.api.karpenter.NodeClaim;

/**
 * Where nodes come from: one {@link NodeClaim} becomes one machine (upstream: Karpenter's {@code
 * CloudProvider}, implemented for AKS by Azure's gpu-provisioner).
 *
 * <p>Contract, which the NodeClaim controller relies on:
 *
 * <ul>
 *   <li><b>Idempotent create.</b> {@link #create} may be called again for a claim whose machine
 *       already exists (the controller restarted after the create but before it wrote the status,
 *       or its cache was stale). It must then return that machine, never make a second one. The
 *       machine is therefore identified by the claim's name, not by anything random.
 *   <li><b>User errors are {@link LaunchException}s</b> with a CamelCase reason and a message that
 *       says what to do; the controller copies both into the claim's {@code Launched=False}
 *       condition. {@link LaunchException#retryable()} says whether trying again later can help.
 *       Any other exception is treated as transient and retried with back-off.
 *   <li><b>Idempotent delete.</b> {@link #delete} of a machine that is gone, or is already going,
 *       succeeds; it does not wait for the machine to disappear: the controller observes that.
 *   <li><b>No blocking waits.</b> Calls return as soon as the cloud accepted the request; readiness
 *       is observed by the controller through the Node, not waited for here.
 *   <li><b>{@link #list} returns only machines this provider made for NodeClaims</b> (for garbage
 *       collection of machines whose claim is gone); it never returns anything else in the cluster
 *       or subscription.
 * </ul>
 */
public interface CloudProvider {

  /** Short name for logs and the {@code --provider} flag, e.g. {@code fake}, {@code azure}. */
  String name();

  /**
   * Makes (or finds, when it already exists) the machine for this claim.
   *
   * @throws LaunchException when the claim cannot be served as asked (unknown instance type, bad
   *     name, ...)
   */
  Instance create(NodeClaim claim) throws LaunchException;

  /** The machine made for this claim, if it exists. */
  Optional<Instance> get(NodeClaim claim);

  /** Starts deleting the machine of this claim; a missing machine is not an error. */
  void delete(NodeClaim claim);

  /** Every machine this provider made for a NodeClaim, for garbage collection. */
  List<Instance> list();
}
