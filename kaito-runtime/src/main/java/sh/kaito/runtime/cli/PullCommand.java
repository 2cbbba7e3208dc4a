package sh.kaito.runtime.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import sh.kaito.presets.image.DockerConfig;
import sh.kaito.presets.image.HttpOciRegistry;
import sh.kaito.presets.image.ImageException;
import sh.kaito.presets.image.ImagePuller;
import sh.kaito.presets.image.ImageRef;
import sh.kaito.presets.image.ModelImageLayout;

/**
 * {@code pull IMAGE DIR --path PATH_IN_IMAGE [--docker-config-dir DIR]}: the init containers that
 * stage preset weights, adapters and tuning input. The work is kaito-presets' {@link ImagePuller}
 * (every blob verified, files moved into place only when all checks pass); this command only picks
 * the credential.
 */
@Command(
    name = "pull",
    mixinStandardHelpOptions = true,
    description = {
      "Pull IMAGE and copy the files under --path into DIR (missing or empty), verifying every"
          + " blob.",
      "With --docker-config-dir, each <secret>.json docker config there that has an entry for"
          + " the image's registry is tried in name order until the image's manifest can be read."
    })
final class PullCommand implements Callable<Integer> {

  static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(5);

  /**
   * Written into DIR after a complete pull: {@code image=<ref> path=<path> digest=<manifest>}. An
   * init container runs again when its pod's sandbox restarts while the volume keeps the earlier
   * pull; with this record the rerun is a no-op instead of "DIR is not empty" forever. Consumers
   * ignore it (the model and adapter loaders read named files; dotfiles are not data).
   */
  static final String RECORD = ".kaito-pulled";

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "IMAGE", description = "Image to pull.")
  String image;

  @Parameters(index = "1", paramLabel = "DIR", description = "Target directory.")
  Path dir;

  @Option(
      names = "--path",
      required = true,
      paramLabel = "PATH_IN_IMAGE",
      description =
          "Directory in the image to copy: "
              + ModelImageLayout.WEIGHTS_DIR
              + " for weights, "
              + ModelImageLayout.ADAPTER_DIR
              + " for adapters and tuning data, / for everything.")
  String path;

  @Option(
      names = "--docker-config-dir",
      paramLabel = "DIR",
      description =
          "Directory of <secret>.json docker configs (default: $DOCKER_CONFIG/config.json or"
              + " ~/.docker/config.json, else anonymous).")
  Path dockerConfigDir;

  @Override
  public Integer call() throws CommandFailure, ImageException {
    PrintWriter err = spec.commandLine().getErr();
    ImageRef ref = ImageRef.parse(image);
    String what = "image=" + ref + " path=" + path;
    Path record = dir.resolve(RECORD);
    if (Files.isRegularFile(record)) {
      String earlier = read(record);
      if (earlier.startsWith(what + " ")) {
        spec.commandLine().getOut().printf("already pulled: %s dir=%s%n", earlier, dir);
        return RuntimeMain.OK;
      }
      throw new CommandFailure(
          dir + " already holds another pull (" + earlier + "); wanted " + what);
    }
    RegistryLogins logins =
        dockerConfigDir != null
            ? RegistryLogins.fromDirectory(dockerConfigDir, ref.registry(), err::println)
            : RegistryLogins.fromConfig(DockerConfig.fromEnvironment(), ref.registry());
    HttpOciRegistry registry =
        firstThatCanRead(
            ref, logins, RegistryLogins.plainHttp(ref.registry(), System.getenv(), err::println));
    ImagePuller.PullResult r =
        new ImagePuller(registry, err::println, PROGRESS_INTERVAL)
            .pull(ref.repository(), ref.reference(), path, dir);
    spec.commandLine()
        .getOut()
        .printf(
            "digest=%s image=%s files=%d bytes=%d layers=%d dir=%s%n",
            r.manifestDigest(), ref, r.files(), r.bytes(), r.layers(), dir);
    write(record, what + " digest=" + r.manifestDigest() + "\n");
    return RuntimeMain.OK;
  }

  private static String read(Path record) throws CommandFailure {
    try {
      return Files.readString(record).strip();
    } catch (IOException e) {
      throw new CommandFailure("cannot read " + record + ": " + e.getMessage(), e);
    }
  }

  /** Written beside, then renamed: a crash leaves no half record (and so no false "pulled"). */
  private static void write(Path record, String text) throws CommandFailure {
    Path tmp = record.resolveSibling(RECORD + ".tmp");
    try {
      Files.writeString(tmp, text);
      Files.move(tmp, record, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new CommandFailure("cannot write " + record + ": " + e.getMessage(), e);
    }
  }

  /**
   * The first login that can read the image's manifest. Trying the manifest, not the whole pull,
   * keeps a corrupted blob from being downloaded once per pull secret.
   */
  private static HttpOciRegistry firstThatCanRead(
      ImageRef ref, RegistryLogins logins, boolean plainHttp) throws ImageException {
    List<String> failures = new ArrayList<>();
    ImageException last = null;
    for (RegistryLogins.Login login : logins.logins()) {
      HttpOciRegistry registry =
          new HttpOciRegistry(ref.registry(), login.credential(), login.source(), plainHttp);
      try {
        registry.fetchManifest(ref.repository(), ref.reference());
        return registry;
      } catch (ImageException e) {
        last = e;
        failures.add(login.source() + ": " + e.getMessage());
      }
    }
    if (failures.size() == 1) {
      throw last;
    }
    throw new ImageException(
        "cannot read "
            + ref
            + " with any of "
            + failures.size()
            + " docker configs: "
            + String.join("; ", failures));
  }
}
