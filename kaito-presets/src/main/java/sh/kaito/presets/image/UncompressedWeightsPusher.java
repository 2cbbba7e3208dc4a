package sh.kaito.presets.image;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FileEntry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * The fast path for weights: the same layers as {@link WeightsImagePacker} (same files, paths,
 * times and modes) but stored as uncompressed {@code application/vnd.oci.image.layer.v1.tar} layers
 * and pushed with {@link OciRegistry}. Weights are incompressible, so gzip only costs CPU: this
 * path runs at disk and network speed. containerd, CRI-O and our {@link ImagePuller} read
 * uncompressed OCI layers. Each layer is written once to a temp file while hashed, then uploaded.
 */
public final class UncompressedWeightsPusher {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final OciRegistry registry;
  private final Path workDir;
  private final Consumer<String> progressSink;
  private final Duration progressInterval;

  /**
   * @param workDir where layer tars are written before upload; removed file by file
   */
  public UncompressedWeightsPusher(
      OciRegistry registry, Path workDir, Consumer<String> progressSink, Duration interval) {
    this.registry = registry;
    this.workDir = workDir;
    this.progressSink = progressSink;
    this.progressInterval = interval;
  }

  /** Packs {@code modelDir} and pushes it as {@code repository:tag}. */
  public WeightsImagePacker.PackResult push(
      Path modelDir, String modelName, String repository, String tag) throws ImageException {
    List<FileEntriesLayer> layers = WeightsImagePacker.layersFor(modelDir);
    long total = 0;
    int files = 0;
    for (FileEntriesLayer l : layers) {
      for (FileEntry e : l.getEntries()) {
        total += size(e.getSourceFile());
        files++;
      }
    }
    String image = registry.registry() + "/" + repository + ":" + tag;
    Progress progress = new Progress("pack " + image, total, progressSink, progressInterval);
    // Each byte is written to a layer tar, then uploaded: progress is the mean of the two passes.
    long[] passes = {0};
    LongConsumer moved =
        n -> {
          passes[0] += n;
          progress.setDone(passes[0] / 2);
        };
    List<String> diffIds = new ArrayList<>();
    List<Long> sizes = new ArrayList<>();
    try {
      Files.createDirectories(workDir);
      for (FileEntriesLayer layer : layers) {
        Path tar = Files.createTempFile(workDir, "layer-", ".tar");
        try {
          String digest = writeLayer(layer, tar, moved);
          registry.pushBlob(repository, digest, tar);
          moved.accept(Files.size(tar));
          diffIds.add(digest);
          sizes.add(Files.size(tar));
        } finally {
          Files.deleteIfExists(tar);
        }
      }
    } catch (IOException e) {
      throw new ImageException("packing " + modelDir + " failed: " + e.getMessage(), e);
    }
    byte[] config = config(diffIds, modelName);
    String configDigest = Digests.of(config);
    registry.pushBlob(repository, configDigest, config);
    byte[] manifest = manifest(configDigest, config.length, diffIds, sizes);
    String digest = registry.pushManifest(repository, tag, manifest, MediaTypes.OCI_MANIFEST);
    progress.finish();
    return new WeightsImagePacker.PackResult(digest, image, layers.size(), total, files);
  }

  /** Writes one layer's tar (parent directories, then files) and returns its sha256. */
  static String writeLayer(FileEntriesLayer layer, Path tar, LongConsumer written)
      throws IOException {
    MessageDigest sha = Digests.sha256();
    try (OutputStream file = Files.newOutputStream(tar);
        DigestOutputStream hashed = new DigestOutputStream(file, sha);
        TarArchiveOutputStream out = new TarArchiveOutputStream(hashed, 1 << 16)) {
      out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      out.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      Set<String> dirs = new LinkedHashSet<>();
      for (FileEntry e : layer.getEntries()) {
        String path = e.getExtractionPath().toString().substring(1);
        for (int i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
          dirs.add(path.substring(0, i + 1));
        }
      }
      for (String dir : dirs) {
        TarArchiveEntry d = new TarArchiveEntry(dir);
        d.setMode(040755);
        fix(d, WeightsImagePacker.FILE_TIME.getEpochSecond());
        out.putArchiveEntry(d);
        out.closeArchiveEntry();
      }
      byte[] buf = new byte[1 << 20];
      for (FileEntry e : layer.getEntries()) {
        TarArchiveEntry t = new TarArchiveEntry(e.getExtractionPath().toString().substring(1));
        t.setSize(Files.size(e.getSourceFile()));
        t.setMode(0100000 | e.getPermissions().getPermissionBits());
        fix(t, e.getModificationTime().getEpochSecond());
        out.putArchiveEntry(t);
        try (InputStream in = Files.newInputStream(e.getSourceFile())) {
          for (int n; (n = in.read(buf)) > 0; ) {
            out.write(buf, 0, n);
            written.accept(n);
          }
        }
        out.closeArchiveEntry();
      }
    }
    return Digests.format(sha);
  }

  private static void fix(TarArchiveEntry e, long seconds) {
    e.setModTime(seconds * 1000);
    e.setUserId(0);
    e.setGroupId(0);
    e.setUserName("");
    e.setGroupName("");
  }

  private static byte[] config(List<String> diffIds, String modelName) throws ImageException {
    ObjectNode c = JSON.createObjectNode();
    c.put("created", "1970-01-01T00:00:00Z");
    c.put("architecture", "amd64");
    c.put("os", "linux");
    ObjectNode inner = c.putObject("config");
    if (modelName != null && !modelName.isBlank()) {
      inner.putObject("Labels").put(ModelImageLayout.MODEL_NAME_ANNOTATION, modelName);
    }
    ObjectNode rootfs = c.putObject("rootfs");
    rootfs.put("type", "layers");
    ArrayNode ids = rootfs.putArray("diff_ids");
    diffIds.forEach(ids::add);
    return bytes(c);
  }

  private static byte[] manifest(
      String configDigest, long configSize, List<String> digests, List<Long> sizes)
      throws ImageException {
    ObjectNode m = JSON.createObjectNode();
    m.put("schemaVersion", 2);
    m.put("mediaType", MediaTypes.OCI_MANIFEST);
    m.putObject("config")
        .put("mediaType", MediaTypes.OCI_CONFIG)
        .put("digest", configDigest)
        .put("size", configSize);
    ArrayNode layers = m.putArray("layers");
    for (int i = 0; i < digests.size(); i++) {
      layers
          .addObject()
          .put("mediaType", MediaTypes.OCI_LAYER_TAR)
          .put("digest", digests.get(i))
          .put("size", sizes.get(i));
    }
    return bytes(m);
  }

  private static byte[] bytes(ObjectNode node) throws ImageException {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new ImageException("cannot write image JSON", e);
    }
  }

  private static long size(Path file) throws ImageException {
    try {
      return Files.size(file);
    } catch (IOException e) {
      throw new ImageException("cannot read " + file, e);
    }
  }
}
