package sh.kaito.images;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kaito-images}: builds the base, controller, provisioner, runtime and pause images in one
 * go (hack/images/build.sh runs it after packaging the modules). Prints one {@code image=…
 * digest=…} line per image on stdout; exit 1 with one line on stderr when a build fails, 2 on bad
 * usage.
 */
@Command(
    name = "kaito-images",
    mixinStandardHelpOptions = true,
    description = "Builds Kaito's images with jib-core from this machine's files (docs/images.md).")
public final class ImagesMain implements Callable<Integer> {

  @Option(
      names = "--registry",
      description = "push to this registry prefix, e.g. 127.0.0.1:5000/kaito or myacr.azurecr.io")
  String registry;

  @Option(names = "--oci-dir", description = "write OCI tar files into this folder instead")
  Path ociDir;

  @Option(
      names = "--insecure",
      description =
          "allow plain HTTP, credentials included (a loopback registry, or one on this machine's"
              + " pod bridge)")
  boolean insecure;

  @Option(names = "--docker-config", description = "credentials: a docker config.json")
  Path dockerConfig;

  @Option(names = "--tag", description = "image tag (default: the version)")
  String tag;

  @Option(names = "--version-string", required = true, description = "the Maven project version")
  String version;

  @Option(names = "--revision", defaultValue = "unknown", description = "git commit")
  String revision;

  @Option(
      names = "--source",
      defaultValue = "https://github.com/kaito-project/kaito",
      description = "org.opencontainers.image.source")
  String source;

  @Option(names = "--repo-root", defaultValue = ".", description = "the checkout")
  Path repoRoot;

  @Option(
      names = "--rootfs",
      description = "the unpacked Debian tree (default: $KAITO_BASE_ROOTFS)")
  Path rootfs;

  @Option(names = "--pause", description = "static pause binary (default: $KAITO_PAUSE_BIN)")
  Path pause;

  @Option(
      names = "--curl-rootfs",
      description = "Debian's curl unpacked, for kaito-curl (default: $KAITO_CURL_ROOTFS)")
  Path curlRootfs;

  @Option(names = "--cache", description = "layer cache (default: $KAITO_CACHE)")
  Path cache;

  @Option(
      names = "--cuda-torch-site",
      description =
          "also build kaito-runtime:<tag>-cuda from this site-packages folder (a CUDA torch 2.7.1"
              + " and its nvidia libraries; hack/images/cuda-torch.sh makes one)")
  Path cudaTorchSite;

  /** jib-core's switch (JibSystemProperties) for credentials on a plain-HTTP registry. */
  public static final String SEND_CREDENTIALS_OVER_HTTP = "sendCredentialsOverHttp";

  public static void main(String[] args) {
    CommandLine cl = new CommandLine(new ImagesMain());
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          cmd.getErr().println("error: " + ex.getMessage());
          return 1;
        });
    System.exit(cl.execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if ((registry == null) == (ociDir == null)) {
      System.err.println("error: give exactly one of --registry and --oci-dir");
      return 2;
    }
    Map<String, String> env = System.getenv();
    Path base = rootfs != null ? rootfs : envPath(env, "KAITO_BASE_ROOTFS");
    if (base == null) {
      System.err.println(
          "error: no --rootfs and no $KAITO_BASE_ROOTFS (hack/setup/40-base-image.sh)");
      return 2;
    }
    Optional<Path> pauseBin =
        Optional.ofNullable(pause != null ? pause : envPath(env, "KAITO_PAUSE_BIN"));
    Path cacheDir =
        cache != null
            ? cache
            : Optional.ofNullable(envPath(env, "KAITO_CACHE"))
                .orElse(Path.of(System.getProperty("user.home"), ".cache", "kaito-java"));
    Path root = repoRoot.toAbsolutePath().normalize();
    Path work = Files.createTempDirectory("kaito-images");
    ImageBuilder.Inputs inputs =
        new ImageBuilder.Inputs(
            root,
            version,
            revision,
            source,
            base,
            pauseBin,
            cacheDir,
            work,
            Optional.ofNullable(cudaTorchSite),
            Optional.ofNullable(
                curlRootfs != null ? curlRootfs : envPath(env, "KAITO_CURL_ROOTFS")));
    ImageBuilder.Target target =
        registry != null
            ? ImageBuilder.Target.registry(registry, insecure)
            : ImageBuilder.Target.tars(ociDir);
    if (dockerConfig != null) {
      target = target.withDockerConfig(dockerConfig);
    }
    if (insecure) {
      // jib-core otherwise refuses to send a password over plain HTTP, even when asked to use it.
      System.setProperty(SEND_CREDENTIALS_OVER_HTTP, "true");
    }
    Map<ImageBuilder.Kind, ImageBuilder.Built> built =
        new ImageBuilder(inputs, line -> System.err.println(line))
            .buildAll(target, tag != null ? tag : version);
    built
        .values()
        .forEach(
            b ->
                System.out.println(
                    "image=" + b.reference() + " digest=" + b.digest() + " id=" + b.imageId()));
    DjlNatives.deleteTree(work);
    return 0;
  }

  private static Path envPath(Map<String, String> env, String name) {
    String v = env.get(name);
    return v == null || v.isBlank() ? null : Path.of(v);
  }
}
