package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Volume;

/**
 * Where tuning writes the adapter: exactly one of a volume or an image.
 *
 * @param volumeSource any Kubernetes volume source, kept as written (see {@link DataSource})
 * @param image the adapter image to push, e.g. {@code myacr.azurecr.io/adapter:0.0.1}
 * @param imagePushSecret a {@code kubernetes.io/dockerconfigjson} Secret used to push {@code image}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DataDestination(Volume volumeSource, String image, String imagePushSecret) {

  public static DataDestination ofImage(String image, String pushSecret) {
    return new DataDestination(null, image, pushSecret);
  }

  public static DataDestination ofVolume(Volume volume) {
    return new DataDestination(volume, null, null);
  }
}
