package sh.kaito.presets.image;

import com.google.cloud.tools.jib.api.CacheDirectoryCreationException;
import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.ImageReference;
import com.google.cloud.tools.jib.api.InsecureRegistryException;
import com.google.cloud.tools.jib.api.InvalidImageReferenceException;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.JibContainer;
import com.google.cloud.tools.jib.api.JibContainerBuilder;
import com.google.cloud.tools.jib.api.LogEvent;
import com.google.cloud.tools.jib.api.RegistryException;
import com.google.cloud.tools.jib.api.RegistryImage;
import com.google.cloud.tools.jib.api.RegistryUnauthorizedException;
import com.google.cloud.tools.jib.api.TarImage;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FileEntry;
import com.google.cloud.tools.jib.api.buildplan.FilePermissions;
import com.google.cloud.tools.jib.api.buildplan.ImageFormat;
import com.google.cloud.tools.jib.event.events.ProgressEvent;
import com.google.cloud.tools.jib.event.progress.ProgressEventHandler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Packs a model directory into an OCI image FROM scratch with jib-core, no Docker: files under
 * {@link ModelImageLayout#WEIGHTS_DIR}, one layer per large file, one for the small ones, fixed
 * timestamps and permissions so the same directory always gives the same digest.
 */
public final class WeightsImagePacker {

  private static final Logger LOG = LoggerFactory.getLogger(WeightsImagePacker.class);

  /** Fixed file time in layers (Jib's default, one second after the epoch). */
  static final Instant FILE_TIME = Instant.ofEpochSecond(1);

  /** Where the image goes. */
  public sealed interface Target {
    /** A registry; {@code credential} answers its challenge, {@code insecure} allows plain HTTP. */
    record Registry(
        String imageReference,
        Optional<RegistryCredential> credential,
        String credentialSource,
        boolean insecure)
        implements Target {}

    /** A docker-loadable tar file holding the image under {@code imageReference}. */
    record Tar(Path file, String imageReference) implements Target {}
  }

  /** What was built. */
  public record PackResult(
      String digest, String imageReference, int layers, long bytes, int files) {}

  private final Path cacheDir;
  private final Consumer<String> progressSink;
  private final Duration progressInterval;

  /**
   * @param cacheDir jib's layer cache (compressed layers are kept here, so a re-push of an
   *     unchanged model uploads nothing)
   */
  public WeightsImagePacker(Path cacheDir, Consumer<String> progressSink, Duration interval) {
    this.cacheDir = cacheDir;
    this.progressSink = progressSink;
    this.progressInterval = interval;
  }

  /** The layers for a model directory: large files alone, small ones together; sorted paths. */
  public static List<FileEntriesLayer> layersFor(Path modelDir) throws ImageException {
    if (!Files.isDirectory(modelDir)) {
      throw new ImageException(modelDir + " is not a directory");
    }
    List<Path> files;
    try (Stream<Path> walk = Files.walk(modelDir)) {
      files = walk.filter(Files::isRegularFile).sorted().toList();
    } catch (IOException e) {
      throw new ImageException("cannot list " + modelDir + ": " + e.getMessage(), e);
    }
    if (files.isEmpty()) {
      throw new ImageException(modelDir + " has no files to pack");
    }
    AbsoluteUnixPath root = AbsoluteUnixPath.get(ModelImageLayout.WEIGHTS_DIR);
    List<FileEntriesLayer> layers = new ArrayList<>();
    FileEntriesLayer.Builder small = FileEntriesLayer.builder().setName("model-files");
    boolean anySmall = false;
    for (Path file : files) {
      String relative = modelDir.relativize(file).toString().replace('\\', '/');
      FileEntry entry =
          new FileEntry(
              file, root.resolve(relative), FilePermissions.DEFAULT_FILE_PERMISSIONS, FILE_TIME);
      long size;
      try {
        size = Files.size(file);
      } catch (IOException e) {
        throw new ImageException("cannot read " + file, e);
      }
      if (size >= ModelImageLayout.OWN_LAYER_THRESHOLD) {
        layers.add(FileEntriesLayer.builder().setName(relative).addEntry(entry).build());
      } else {
        small.addEntry(entry);
        anySmall = true;
      }
    }
    if (anySmall) {
      layers.add(0, small.build());
    }
    return layers;
  }

  /**
   * Packs {@code modelDir} and writes the image to {@code target}.
   *
   * @param modelName recorded as the {@code sh.kaito.model.name} label, may be null
   */
  public PackResult pack(Path modelDir, String modelName, Target target) throws ImageException {
    List<FileEntriesLayer> layers = layersFor(modelDir);
    long totalBytes = 0;
    int fileCount = 0;
    for (FileEntriesLayer l : layers) {
      for (FileEntry e : l.getEntries()) {
        try {
          totalBytes += Files.size(e.getSourceFile());
        } catch (IOException ex) {
          throw new ImageException("cannot read " + e.getSourceFile(), ex);
        }
        fileCount++;
      }
    }
    JibContainerBuilder builder =
        Jib.fromScratch()
            .setFormat(ImageFormat.OCI)
            .setCreationTime(Instant.EPOCH)
            .setFileEntriesLayers(layers);
    if (modelName != null && !modelName.isBlank()) {
      builder.addLabel(ModelImageLayout.MODEL_NAME_ANNOTATION, modelName);
    }
    String destination;
    Containerizer containerizer;
    try {
      if (target instanceof Target.Registry r) {
        ImageReference ref = ImageReference.parse(r.imageReference());
        destination = ref.toString();
        RegistryImage image = RegistryImage.named(ref);
        r.credential().ifPresent(c -> image.addCredential(c.username(), c.password()));
        if (r.insecure() || HttpOciRegistry.isLoopback(ref.getRegistry())) {
          // Jib refuses to send credentials over plain HTTP unless told to.
          System.setProperty("sendCredentialsOverHttp", "true");
        }
        containerizer =
            Containerizer.to(image)
                .setAllowInsecureRegistries(
                    r.insecure() || HttpOciRegistry.isLoopback(ref.getRegistry()));
      } else {
        Target.Tar t = (Target.Tar) target;
        destination = t.file().toString();
        containerizer =
            Containerizer.to(TarImage.at(t.file()).named(ImageReference.parse(t.imageReference())));
      }
    } catch (InvalidImageReferenceException e) {
      throw new ImageException("invalid image reference: " + e.getMessage(), e);
    }
    Progress progress =
        new Progress("pack " + destination, totalBytes, progressSink, progressInterval);
    long total = totalBytes;
    containerizer
        .setToolName("kaito-presets")
        .setApplicationLayersCache(cacheDir)
        .setBaseImageLayersCache(cacheDir)
        .addEventHandler(LogEvent.class, WeightsImagePacker::log)
        .addEventHandler(
            ProgressEvent.class,
            new ProgressEventHandler(u -> progress.setDone((long) (u.getProgress() * total))));
    try {
      JibContainer container = builder.containerize(containerizer);
      progress.finish();
      return new PackResult(
          container.getDigest().toString(), destination, layers.size(), totalBytes, fileCount);
    } catch (ExecutionException e) {
      throw translate(e.getCause() == null ? e : e.getCause(), target);
    } catch (RegistryException e) {
      throw translate(e, target);
    } catch (CacheDirectoryCreationException e) {
      throw new ImageException("cannot create the layer cache " + cacheDir, e);
    } catch (IOException e) {
      throw new ImageException("packing " + modelDir + " failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ImageException("interrupted while packing " + modelDir, e);
    }
  }

  private static ImageException translate(Throwable cause, Target target) {
    String registry = "";
    String source = "";
    if (target instanceof Target.Registry r) {
      try {
        registry = ImageReference.parse(r.imageReference()).getRegistry();
      } catch (InvalidImageReferenceException e) {
        registry = r.imageReference();
      }
      source = r.credentialSource();
    }
    if (cause instanceof RegistryUnauthorizedException && target instanceof Target.Registry r) {
      return ImageException.unauthorized(registry, r.credential(), source, cause);
    }
    if (cause instanceof InsecureRegistryException) {
      return new ImageException(
          "registry " + registry + " does not speak verified HTTPS; pass --insecure to allow it",
          cause);
    }
    if (cause instanceof java.net.ConnectException
        || cause.getCause() instanceof java.net.ConnectException) {
      return new ImageException(
          "cannot reach registry " + registry + ": connection refused", cause);
    }
    return new ImageException(
        (registry.isEmpty() ? "packing failed: " : "push to registry " + registry + " failed: ")
            + cause.getMessage(),
        cause);
  }

  private static void log(LogEvent event) {
    switch (event.getLevel()) {
      case ERROR -> LOG.error("jib: {}", event.getMessage());
      case WARN -> LOG.debug("jib: {}", event.getMessage()); // insecure-registry fallbacks
      default -> LOG.debug("jib: {}", event.getMessage());
    }
  }
}
