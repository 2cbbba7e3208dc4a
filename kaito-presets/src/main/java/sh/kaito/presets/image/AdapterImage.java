package sh.kaito.presets.image;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * A LoRA adapter as an OCI image in upstream's layout (pkg/workspace/image/pusher.sh,
 * kaito-upstream-contract.md §5.4): one {@code tar+gzip} layer holding {@code
 * data/adapter_config.json} and {@code data/adapter_model.safetensors}, a config that is just
 * {@code {"rootfs":{"diff_ids":[...]}}} with the OCI config media type, and manifest annotations
 * (upstream writes {@code sh.kaito.model.name}). Unlike ORAS we write no {@code
 * org.opencontainers.image.created} annotation and fix file times, so the digest is reproducible.
 *
 * @param layer the gzip-compressed layer
 * @param layerDigest digest of {@code layer}
 * @param diffId digest of the uncompressed tar
 * @param config the image config bytes
 * @param manifest the image manifest bytes
 */
public record AdapterImage(
    byte[] layer, String layerDigest, String diffId, byte[] config, byte[] manifest) {

  /** ORAS names the layer after the file it pushed. */
  public static final String LAYER_TITLE = "layer.tar.gz";

  static final long FILE_TIME_SECONDS = 1;
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Builds the image from a directory holding {@code adapter_config.json} and {@code
   * adapter_model.safetensors} (what PEFT's {@code save_pretrained} writes).
   *
   * @param annotations manifest annotations, e.g. {@code sh.kaito.model.name}
   */
  public static AdapterImage build(Path adapterDir, Map<String, String> annotations)
      throws ImageException {
    List<String> names = List.of(ModelImageLayout.ADAPTER_CONFIG, ModelImageLayout.ADAPTER_WEIGHTS);
    for (String name : names) {
      if (!Files.isRegularFile(adapterDir.resolve(name))) {
        throw new ImageException(
            adapterDir + " has no " + name + " (an adapter directory needs " + names + ")");
      }
    }
    try {
      byte[] tar = tar(adapterDir, names);
      String diffId = Digests.of(tar);
      byte[] layer = gzip(tar);
      String layerDigest = Digests.of(layer);

      ObjectNode config = JSON.createObjectNode();
      config.putObject("rootfs").putArray("diff_ids").add(diffId);
      byte[] configBytes = JSON.writeValueAsBytes(config);

      ObjectNode manifest = JSON.createObjectNode();
      manifest.put("schemaVersion", 2);
      manifest.put("mediaType", MediaTypes.OCI_MANIFEST);
      manifest
          .putObject("config")
          .put("mediaType", MediaTypes.OCI_CONFIG)
          .put("digest", Digests.of(configBytes))
          .put("size", configBytes.length);
      ArrayNode layers = manifest.putArray("layers");
      ObjectNode l = layers.addObject();
      l.put("mediaType", MediaTypes.OCI_LAYER_TAR_GZIP)
          .put("digest", layerDigest)
          .put("size", layer.length);
      l.putObject("annotations").put("org.opencontainers.image.title", LAYER_TITLE);
      if (!annotations.isEmpty()) {
        ObjectNode a = manifest.putObject("annotations");
        new TreeMap<>(annotations).forEach(a::put);
      }
      return new AdapterImage(
          layer, layerDigest, diffId, configBytes, JSON.writeValueAsBytes(manifest));
    } catch (IOException e) {
      throw new ImageException("cannot pack adapter " + adapterDir + ": " + e.getMessage(), e);
    }
  }

  /** The manifest's digest, which names the image. */
  public String digest() {
    return Digests.of(manifest);
  }

  /** Uploads layer, config and manifest; returns the manifest digest. */
  public String push(OciRegistry registry, String repository, String tag) throws ImageException {
    registry.pushBlob(repository, layerDigest, layer);
    registry.pushBlob(repository, Digests.of(config), config);
    return registry.pushManifest(repository, tag, manifest, MediaTypes.OCI_MANIFEST);
  }

  /**
   * Writes an OCI image layout as a tar file ({@code oci-layout}, {@code index.json}, {@code
   * blobs/sha256/...}), the form {@code oras cp --from-oci-layout} and {@code skopeo} read.
   */
  public void writeOciLayoutTar(Path file, String tag) throws ImageException {
    ObjectNode index = JSON.createObjectNode();
    index.put("schemaVersion", 2);
    index.put("mediaType", MediaTypes.OCI_INDEX);
    ObjectNode m = index.putArray("manifests").addObject();
    m.put("mediaType", MediaTypes.OCI_MANIFEST)
        .put("digest", digest())
        .put("size", manifest.length);
    m.putObject("annotations").put("org.opencontainers.image.ref.name", tag);
    try (OutputStream out = Files.newOutputStream(file);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      put(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
      put(tar, "index.json", JSON.writeValueAsBytes(index));
      put(tar, blobPath(layerDigest), layer);
      put(tar, blobPath(Digests.of(config)), config);
      put(tar, blobPath(digest()), manifest);
    } catch (IOException e) {
      throw new ImageException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  private static String blobPath(String digest) {
    return "blobs/sha256/" + digest.substring("sha256:".length());
  }

  /** {@code tar c data}: the directory entry, then the files, fixed owner, mode and time. */
  static byte[] tar(Path adapterDir, List<String> names) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      String dir = ModelImageLayout.ADAPTER_DIR.substring(1) + "/";
      TarArchiveEntry d = new TarArchiveEntry(dir);
      d.setMode(040755);
      fix(d);
      tar.putArchiveEntry(d);
      tar.closeArchiveEntry();
      for (String name : names) {
        Path file = adapterDir.resolve(name);
        TarArchiveEntry e = new TarArchiveEntry(dir + name);
        e.setSize(Files.size(file));
        e.setMode(0100644);
        fix(e);
        tar.putArchiveEntry(e);
        Files.copy(file, tar);
        tar.closeArchiveEntry();
      }
    }
    return bytes.toByteArray();
  }

  private static void fix(TarArchiveEntry e) {
    e.setModTime(FILE_TIME_SECONDS * 1000);
    e.setUserId(0);
    e.setGroupId(0);
    e.setUserName("");
    e.setGroupName("");
  }

  private static void put(TarArchiveOutputStream tar, String name, byte[] body) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(body.length);
    e.setMode(0100644);
    fix(e);
    tar.putArchiveEntry(e);
    tar.write(body);
    tar.closeArchiveEntry();
  }

  /** gzip -9 with a fixed header (no name, no time), so equal input gives equal bytes. */
  static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream(data.length / 2 + 64);
    try (GZIPOutputStream gz =
        new GZIPOutputStream(out, 1 << 16) {
          {
            def.setLevel(Deflater.BEST_COMPRESSION);
          }
        }) {
      gz.write(data);
    }
    return out.toByteArray();
  }
}
