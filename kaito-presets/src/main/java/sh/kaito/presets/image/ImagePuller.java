package sh.kaito.presets.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Pulls an image and extracts the files under one path of its filesystem into a directory: what the
 * init containers that stage model weights and adapters run.
 *
 * <p>Every blob is checked: the manifest against a digest reference, the config and each layer
 * against the digests in the manifest, and each layer's uncompressed content against the config's
 * {@code rootfs.diff_ids}. Files land in a staging directory next to the target and move into place
 * only when everything verified, so a failed pull leaves no partial model behind.
 */
public final class ImagePuller {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String WHITEOUT = ".wh.";

  private final OciRegistry registry;
  private final Consumer<String> progressSink;
  private final Duration progressInterval;

  public ImagePuller(OciRegistry registry, Consumer<String> progressSink, Duration interval) {
    this.registry = registry;
    this.progressSink = progressSink;
    this.progressInterval = interval;
  }

  /** What a pull did. */
  public record PullResult(String manifestDigest, int files, long bytes, int layers) {}

  /**
   * @param repository the repository in the registry, e.g. {@code kaito/phi-3}
   * @param reference a tag or a {@code sha256:} digest
   * @param imagePath the directory in the image to extract, e.g. {@code /workspace/weights} or
   *     {@code /data}; {@code /} for everything
   * @param target a missing or empty directory
   */
  public PullResult pull(String repository, String reference, String imagePath, Path target)
      throws ImageException {
    String prefix = normalizePrefix(imagePath);
    requireEmptyTarget(target);
    String image = registry.registry() + "/" + repository + ":" + reference;

    OciRegistry.Manifest manifest = registry.fetchManifest(repository, reference);
    if (reference.startsWith("sha256:") && !reference.equals(manifest.digest())) {
      throw new ImageException(
          "manifest of " + image + " has digest " + manifest.digest() + ", not " + reference);
    }
    String manifestDigest = manifest.digest();
    JsonNode root = readJson(manifest.body(), "manifest of " + image);
    if (MediaTypes.isIndex(manifest.mediaType()) || root.has("manifests")) {
      String chosen = chooseFromIndex(root, image);
      manifest = registry.fetchManifest(repository, chosen);
      if (!chosen.equals(manifest.digest())) {
        throw new ImageException(
            "manifest " + chosen + " of " + image + " does not match its digest");
      }
      root = readJson(manifest.body(), "manifest of " + image);
    }
    if (!root.has("layers")) {
      throw new ImageException(
          image + " has an unsupported manifest (media type " + manifest.mediaType() + ")");
    }

    JsonNode configDescriptor = root.path("config");
    byte[] configBytes = readVerified(repository, configDescriptor, "config of " + image);
    List<String> diffIds = new ArrayList<>();
    readJson(configBytes, "config of " + image)
        .path("rootfs")
        .path("diff_ids")
        .forEach(n -> diffIds.add(n.asText()));

    List<JsonNode> layers = new ArrayList<>();
    root.path("layers").forEach(layers::add);
    if (!diffIds.isEmpty() && diffIds.size() != layers.size()) {
      throw new ImageException(
          image
              + ": config lists "
              + diffIds.size()
              + " diff_ids for "
              + layers.size()
              + " layers");
    }
    long total = layers.stream().mapToLong(l -> l.path("size").asLong()).sum();

    // An existing (empty) target may be a volume mount: stage inside it, on its filesystem.
    boolean targetExists = Files.isDirectory(target);
    Path parent = target.toAbsolutePath().getParent();
    Path staging;
    try {
      if (targetExists) {
        staging = Files.createTempDirectory(target, ".kaito-pull-");
      } else {
        Files.createDirectories(parent);
        staging = Files.createTempDirectory(parent, "." + target.getFileName() + ".partial-");
      }
    } catch (IOException e) {
      throw new ImageException("cannot create a staging directory for " + target, e);
    }
    try {
      Progress progress = new Progress("pull " + image, total, progressSink, progressInterval);
      int[] files = {0};
      long[] bytes = {0};
      for (int i = 0; i < layers.size(); i++) {
        JsonNode layer = layers.get(i);
        String diffId = diffIds.isEmpty() ? null : diffIds.get(i);
        extractLayer(repository, layer, diffId, prefix, staging, progress, files, bytes, image);
      }
      progress.finish();
      if (files[0] == 0) {
        throw new ImageException(image + " has no files under " + imagePath);
      }
      moveIntoPlace(staging, target);
      return new PullResult(manifestDigest, files[0], bytes[0], layers.size());
    } finally {
      deleteRecursively(staging);
    }
  }

  private String chooseFromIndex(JsonNode index, String image) throws ImageException {
    JsonNode first = null;
    for (JsonNode m : index.path("manifests")) {
      if (first == null) {
        first = m;
      }
      JsonNode platform = m.path("platform");
      if ("linux".equals(platform.path("os").asText())
          && "amd64".equals(platform.path("architecture").asText())) {
        return Digests.requireValid(m.path("digest").asText());
      }
    }
    if (first == null) {
      throw new ImageException(image + " is an empty image index");
    }
    return Digests.requireValid(first.path("digest").asText());
  }

  private byte[] readVerified(String repository, JsonNode descriptor, String what)
      throws ImageException {
    String digest = Digests.requireValid(descriptor.path("digest").asText());
    try (InputStream in = registry.openBlob(repository, digest)) {
      byte[] body = in.readAllBytes();
      String actual = Digests.of(body);
      if (!actual.equals(digest)) {
        throw corrupted(what, digest, actual);
      }
      return body;
    } catch (IOException e) {
      throw new ImageException("cannot read " + what + " from " + registry.registry(), e);
    }
  }

  private void extractLayer(
      String repository,
      JsonNode layer,
      String diffId,
      String prefix,
      Path staging,
      Progress progress,
      int[] files,
      long[] bytes,
      String image)
      throws ImageException {
    String digest = Digests.requireValid(layer.path("digest").asText());
    String mediaType = layer.path("mediaType").asText();
    boolean gzip = MediaTypes.isGzipLayer(mediaType);
    if (!gzip && !MediaTypes.isPlainTarLayer(mediaType)) {
      throw new ImageException(image + ": layer " + digest + " has unsupported type " + mediaType);
    }
    // 1. Download to a file while hashing: nothing is extracted from an unverified blob.
    Path blob = staging.resolve(".blob-" + digest.substring(7));
    MessageDigest compressed = Digests.sha256();
    try (InputStream in = registry.openBlob(repository, digest);
        OutputStream out = Files.newOutputStream(blob)) {
      byte[] buf = new byte[1 << 20];
      for (int n; (n = in.read(buf)) > 0; ) {
        compressed.update(buf, 0, n);
        out.write(buf, 0, n);
        progress.advance(n);
      }
    } catch (IOException e) {
      throw new ImageException("download of layer " + digest + " from " + image + " failed", e);
    }
    String actual = Digests.format(compressed);
    if (!actual.equals(digest)) {
      throw corrupted("layer", digest, actual);
    }
    // 2. Extract, hashing the uncompressed tar to check the config's diff_id.
    MessageDigest uncompressed = Digests.sha256();
    try (InputStream file = new BufferedInputStream(Files.newInputStream(blob), 1 << 16);
        InputStream raw = gzip ? new GZIPInputStream(file, 1 << 16) : file;
        DigestInputStream hashed = new DigestInputStream(raw, uncompressed);
        TarArchiveInputStream tar = new TarArchiveInputStream(hashed)) {
      for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
        extractEntry(tar, e, prefix, staging, files, bytes, image);
      }
      hashed.transferTo(OutputStream.nullOutputStream());
    } catch (IOException e) {
      throw new ImageException("layer " + digest + " of " + image + " is not a valid tar", e);
    } finally {
      try {
        Files.deleteIfExists(blob);
      } catch (IOException e) {
        // removed with the staging directory
      }
    }
    if (diffId != null) {
      String actualDiff = Digests.format(uncompressed);
      if (!actualDiff.equals(diffId)) {
        throw corrupted("layer content (diff_id)", diffId, actualDiff);
      }
    }
  }

  private void extractEntry(
      TarArchiveInputStream tar,
      TarArchiveEntry entry,
      String prefix,
      Path staging,
      int[] files,
      long[] bytes,
      String image)
      throws IOException, ImageException {
    String name = entry.getName();
    while (name.startsWith("./") || name.startsWith("/")) {
      name = name.startsWith("./") ? name.substring(2) : name.substring(1);
    }
    if (!(name + "/").startsWith(prefix) && !prefix.isEmpty()) {
      return;
    }
    String relative = name.length() <= prefix.length() ? "" : name.substring(prefix.length());
    if (relative.isEmpty() || relative.equals("/")) {
      return;
    }
    for (String part : relative.split("/")) {
      if (part.equals("..")) {
        throw new ImageException(image + ": tar entry escapes its directory: " + entry.getName());
      }
    }
    Path dest = staging.resolve(relative).normalize();
    if (!dest.startsWith(staging)) {
      throw new ImageException(image + ": tar entry escapes its directory: " + entry.getName());
    }
    String fileName = dest.getFileName().toString();
    if (fileName.startsWith(WHITEOUT)) {
      Path hidden = dest.resolveSibling(fileName.substring(WHITEOUT.length()));
      deleteRecursively(hidden);
      return;
    }
    if (entry.isDirectory()) {
      Files.createDirectories(dest);
    } else if (entry.isFile()) {
      Files.createDirectories(dest.getParent());
      Files.copy(tar, dest, StandardCopyOption.REPLACE_EXISTING);
      files[0]++;
      bytes[0] += entry.getSize();
    }
    // Links and devices are not model files; they are skipped.
  }

  private static ImageException corrupted(String what, String expected, String actual) {
    return new ImageException(
        "corrupted "
            + what
            + ": expected digest "
            + expected
            + " but the content hashes to "
            + actual);
  }

  private static String normalizePrefix(String imagePath) {
    String p = imagePath == null ? "" : imagePath.trim();
    while (p.startsWith("/") || p.startsWith("./")) {
      p = p.startsWith("/") ? p.substring(1) : p.substring(2);
    }
    while (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p.isEmpty() ? "" : p + "/";
  }

  private static void requireEmptyTarget(Path target) throws ImageException {
    if (!Files.exists(target)) {
      return;
    }
    if (!Files.isDirectory(target)) {
      throw new ImageException(target + " exists and is not a directory");
    }
    try (DirectoryStream<Path> s = Files.newDirectoryStream(target)) {
      if (s.iterator().hasNext()) {
        throw new ImageException(target + " is not empty");
      }
    } catch (IOException e) {
      throw new ImageException("cannot read " + target, e);
    }
  }

  private static void moveIntoPlace(Path staging, Path target) throws ImageException {
    try {
      if (!Files.isDirectory(target)) {
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        return;
      }
      try (DirectoryStream<Path> children = Files.newDirectoryStream(staging)) {
        for (Path child : children) {
          Files.move(child, target.resolve(child.getFileName()), StandardCopyOption.ATOMIC_MOVE);
        }
      }
    } catch (IOException e) {
      throw new ImageException("cannot move the pulled files into " + target, e);
    }
  }

  private static JsonNode readJson(byte[] body, String what) throws ImageException {
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new ImageException(what + " is not valid JSON", e);
    }
  }

  static void deleteRecursively(Path path) {
    if (!Files.exists(path)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(path)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // best effort: a leftover staging directory is harmless
    }
  }
}
