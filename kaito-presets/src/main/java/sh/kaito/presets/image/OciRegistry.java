package sh.kaito.presets.image;

import java.io.InputStream;
import java.nio.file.Path;

/**
 * The parts of the OCI distribution API (registry v2) this module needs. Implementations resolve
 * authentication themselves. Every failure is an {@link ImageException} whose message names the
 * registry.
 */
public interface OciRegistry {

  /** {@code host[:port]}, for messages. */
  String registry();

  /** A manifest (image, or index / manifest list) as the registry serves it. */
  record Manifest(byte[] body, String mediaType, String digest) {}

  /**
   * Fetches a manifest by tag or digest, accepting OCI and Docker v2 image manifests and indexes.
   */
  Manifest fetchManifest(String repository, String reference) throws ImageException;

  /** Opens a blob for reading; the caller verifies its digest and closes the stream. */
  InputStream openBlob(String repository, String digest) throws ImageException;

  /** Whether the repository already has the blob. */
  boolean hasBlob(String repository, String digest) throws ImageException;

  /** Uploads a blob (monolithic upload) unless the registry already has it. */
  void pushBlob(String repository, String digest, Path content) throws ImageException;

  /** Uploads a blob held in memory. */
  void pushBlob(String repository, String digest, byte[] content) throws ImageException;

  /** Puts a manifest under a tag; returns its digest. */
  String pushManifest(String repository, String tag, byte[] body, String mediaType)
      throws ImageException;
}
