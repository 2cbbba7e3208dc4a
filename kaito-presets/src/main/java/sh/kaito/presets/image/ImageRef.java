package sh.kaito.presets.image;

import com.google.cloud.tools.jib.api.ImageReference;
import com.google.cloud.tools.jib.api.InvalidImageReferenceException;

/**
 * A parsed image reference: {@code registry/repository[:tag][@digest]}. Docker Hub short names
 * resolve as docker does ({@code ubuntu} is {@code registry-1.docker.io/library/ubuntu:latest}).
 */
public record ImageRef(String registry, String repository, String reference) {

  public static ImageRef parse(String image) throws ImageException {
    try {
      ImageReference ref = ImageReference.parse(image);
      String reference = ref.getDigest().orElse(ref.getTag().orElse("latest"));
      return new ImageRef(ref.getRegistry(), ref.getRepository(), reference);
    } catch (InvalidImageReferenceException e) {
      throw new ImageException("invalid image reference \"" + image + "\"", e);
    }
  }

  @Override
  public String toString() {
    return registry + "/" + repository + (reference.startsWith("sha256:") ? "@" : ":") + reference;
  }
}
