package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One entry of {@code inference.adapters}: a LoRA adapter served on top of the preset.
 *
 * @param source where the adapter comes from (an image or a volume; its {@code name} names the
 *     adapter)
 * @param strength a float in a string, between 0 and 1; null means {@code "1.0"}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record AdapterSpec(DataSource source, String strength) {

  public static final String DEFAULT_STRENGTH = "1.0";

  public static AdapterSpec fromImage(String name, String image, String strength) {
    return new AdapterSpec(new DataSource(name, null, null, image, null), strength);
  }

  /** The adapter's name ({@code source.name}), or null when there is no source. */
  public String name() {
    return source == null ? null : source.name();
  }
}
