package sh.kaito.api.validation;

import java.util.List;

/**
 * Operator settings that change which rules apply (upstream's feature gates and flags).
 *
 * @param nodeAutoProvisioning true (the default) when Kaito creates GPU nodes; false when users
 *     bring their own nodes ({@code disableNodeAutoProvisioning=true} upstream)
 * @param karpenterProvisioner true when nodes come from Karpenter NodePools; enables the
 *     node-class-name annotation check
 * @param allowedNodeClassNames NodeClasses a workspace may name with {@code
 *     kaito.sh/node-class-name}
 * @param enableMig feature gate {@code enableMIG}
 * @param enableAccelerator feature gate {@code enableAccelerator}
 */
public record ValidationOptions(
    boolean nodeAutoProvisioning,
    boolean karpenterProvisioner,
    List<String> allowedNodeClassNames,
    boolean enableMig,
    boolean enableAccelerator) {

  public ValidationOptions {
    allowedNodeClassNames = List.copyOf(allowedNodeClassNames);
  }

  /** Upstream's defaults: node auto-provisioning on, gpu-provisioner, no partitioning gates. */
  public static ValidationOptions defaults() {
    return new ValidationOptions(true, false, List.of(), false, false);
  }

  /** Bring-your-own nodes: node auto-provisioning off. */
  public static ValidationOptions bringYourOwnNodes() {
    return new ValidationOptions(false, false, List.of(), false, false);
  }
}
