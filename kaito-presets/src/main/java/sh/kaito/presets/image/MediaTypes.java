package sh.kaito.presets.image;

/** OCI and Docker media types. */
public final class MediaTypes {
  private MediaTypes() {}

  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
  public static final String OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
  public static final String OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
  public static final String DOCKER_MANIFEST =
      "application/vnd.docker.distribution.manifest.v2+json";
  public static final String DOCKER_MANIFEST_LIST =
      "application/vnd.docker.distribution.manifest.list.v2+json";
  public static final String DOCKER_LAYER_TAR_GZIP =
      "application/vnd.docker.image.rootfs.diff.tar.gzip";

  public static boolean isIndex(String mediaType) {
    return OCI_INDEX.equals(mediaType) || DOCKER_MANIFEST_LIST.equals(mediaType);
  }

  public static boolean isGzipLayer(String mediaType) {
    return mediaType.endsWith("tar+gzip") || mediaType.endsWith("tar.gzip");
  }

  public static boolean isPlainTarLayer(String mediaType) {
    return mediaType.equals(OCI_LAYER_TAR) || mediaType.endsWith(".tar");
  }
}
