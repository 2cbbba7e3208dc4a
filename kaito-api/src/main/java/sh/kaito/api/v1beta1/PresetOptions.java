package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * {@code preset.presetOptions}.
 *
 * @param image a user-supplied model image (deprecated in v1beta1)
 * @param imagePullSecrets secrets to pull that image (deprecated in v1beta1)
 * @param modelAccessSecret Secret name with key {@code HF_TOKEN} (v1beta1 only)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PresetOptions(
    String image, List<String> imagePullSecrets, String modelAccessSecret) {}
