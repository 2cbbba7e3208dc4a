package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Volume;
import java.util.List;

/**
 * Where data comes from: tuning input or an adapter. Exactly one of {@code urls}, {@code
 * volumeSource} and {@code image} is set.
 *
 * @param name a DNS-1123 subdomain; for adapters it is the adapter's name
 * @param urls HTTP(S) URLs to download
 * @param volumeSource any Kubernetes volume source ({@code persistentVolumeClaim}, {@code
 *     hostPath}, ...), kept as written, unknown fields included. Typed as fabric8's {@link Volume},
 *     which carries every volume source; its {@code name} is not part of the wire format and stays
 *     null (the controller names the pod volume)
 * @param image an image whose {@code /data} directory holds the data
 * @param imagePullSecrets secrets to pull {@code image}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DataSource(
    String name,
    List<String> urls,
    Volume volumeSource,
    String image,
    List<String> imagePullSecrets) {

  public static DataSource ofUrls(List<String> urls) {
    return new DataSource(null, urls, null, null, null);
  }

  public static DataSource ofImage(String image) {
    return new DataSource(null, null, null, image, null);
  }

  public static DataSource ofVolume(Volume volume) {
    return new DataSource(null, null, volume, null, null);
  }

  /** The URLs, never null. */
  public List<String> urlsOrEmpty() {
    return urls == null ? List.of() : urls;
  }
}
