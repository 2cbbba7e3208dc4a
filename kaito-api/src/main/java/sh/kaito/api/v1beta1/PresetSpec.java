package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * {@code preset}: a model from the catalog, by name.
 *
 * @param name preset name such as {@code phi-3-mini-128k-instruct}
 * @param accessMode {@code public} (CRD default) or {@code private}; deprecated in v1beta1
 * @param presetOptions image overrides and the secret holding {@code HF_TOKEN}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PresetSpec(String name, String accessMode, PresetOptions presetOptions) {

  public static final String ACCESS_PUBLIC = "public";
  public static final String ACCESS_PRIVATE = "private";

  public static PresetSpec named(String name) {
    return new PresetSpec(name, null, null);
  }

  /** The {@code presetOptions.modelAccessSecret}, or null. */
  public String modelAccessSecret() {
    return presetOptions == null ? null : presetOptions.modelAccessSecret();
  }
}
