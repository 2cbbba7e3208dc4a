package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * {@code resource.partition} (v1beta1): run on a slice of a GPU on bring-your-own nodes.
 *
 * @param mode {@code mig} or {@code accelerator}
 * @param profile MIG profile such as {@code 1g.10gb} (mig mode only)
 * @param count number of accelerator partitions (accelerator mode only)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PartitionSpec(String mode, String profile, Integer count) {
  public static final String MODE_MIG = "mig";
  public static final String MODE_ACCELERATOR = "accelerator";
}
