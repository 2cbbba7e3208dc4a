package sh.kaito.images;

import com.google.cloud.tools.jib.api.CacheDirectoryCreationException;
import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.CredentialRetriever;
import com.google.cloud.tools.jib.api.ImageReference;
import com.google.cloud.tools.jib.api.InvalidImageReferenceException;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.JibContainer;
import com.google.cloud.tools.jib.api.JibContainerBuilder;
import com.google.cloud.tools.jib.api.RegistryException;
import com.google.cloud.tools.jib.api.RegistryImage;
import com.google.cloud.tools.jib.api.TarImage;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FilePermissions;
import com.google.cloud.tools.jib.api.buildplan.ImageFormat;
import com.google.cloud.tools.jib.api.buildplan.Platform;
import com.google.cloud.tools.jib.api.buildplan.Port;
import com.google.cloud.tools.jib.frontend.CredentialRetrieverFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Builds Kaito's images with jib-core, FROM nothing: the base (Debian tree + generated files), the
 * controller, the provisioner and the runtime on it, and the pause image. Every input is on this
 * machine (the unpacked packages, the modules' jars, the pause binary); the output goes to a
 * registry or into OCI tar files.
 *
 * <p>Reproducible: creation time and file times are fixed, owners are numeric, entries are sorted;
 * the same inputs give the same manifest digest in any folder, with a cold or a warm layer cache.
 */
public final class ImageBuilder {

  /** The images this builder makes, in build order. */
  public enum Kind {
    BASE("kaito-base"),
    CONTROLLER("kaito-controller"),
    PROVISIONER("kaito-provisioner"),
    RUNTIME("kaito-runtime"),
    PAUSE("kaito-pause"),
    /**
     * curl on the base (command {@code curl --version}): the seed's last step runs {@code kubectl
     * run curl --image=… -- curl …} with it; only with a curl tree.
     */
    CURL("kaito-curl"),
    /** The runtime on a CUDA libtorch: {@code kaito-runtime:<tag>-cuda}; only with a torch site. */
    RUNTIME_CUDA("kaito-runtime", "-cuda");

    public final String repository;
    public final String tagSuffix;

    Kind(String repository) {
      this(repository, "");
    }

    Kind(String repository, String tagSuffix) {
      this.repository = repository;
      this.tagSuffix = tagSuffix;
    }
  }

  /** Where images go: a registry prefix ({@code host[:port]/path}) or a folder of OCI tars. */
  public record Target(
      Optional<String> registry, Optional<Path> tarDir, boolean insecure, Optional<Path> auth) {
    public static Target registry(String prefix, boolean insecure) {
      return new Target(Optional.of(prefix), Optional.empty(), insecure, Optional.empty());
    }

    public static Target tars(Path dir) {
      return new Target(Optional.empty(), Optional.of(dir), false, Optional.empty());
    }

    public Target withDockerConfig(Path config) {
      return new Target(registry, tarDir, insecure, Optional.of(config));
    }
  }

  /**
   * What went into the images. {@code pauseBinary} may be empty: then no pause image. {@code
   * cudaTorchSite}, a Python site-packages folder holding a CUDA build of torch {@value
   * #CUDA_TORCH_VERSION} and its {@code nvidia/*} libraries, adds the {@code -cuda} runtime. {@code
   * curlRootfs}, Debian's curl and its libraries unpacked ({@code KAITO_CURL_ROOTFS}), adds {@code
   * kaito-curl}.
   */
  public record Inputs(
      Path repoRoot,
      String version,
      String revision,
      String source,
      Path baseRootfs,
      Optional<Path> pauseBinary,
      Path cacheDir,
      Path workDir,
      Optional<Path> cudaTorchSite,
      Optional<Path> curlRootfs) {}

  /** The libtorch version DJL 0.36's JNI library is built for. */
  public static final String CUDA_TORCH_VERSION = "2.7.1";

  /** Where the -cuda image keeps the torch site (its libraries' RPATHs are relative to it). */
  static final String TORCH_SITE_DIR = "/opt/torch";

  /** One image built: its reference, manifest digest and image id (config digest). */
  public record Built(Kind kind, String reference, String digest, String imageId) {}

  private static final FilePermissions FILE = FilePermissions.fromOctalString("644");
  private static final FilePermissions EXECUTABLE = FilePermissions.fromOctalString("755");

  private final Inputs in;
  private final Consumer<String> log;

  public ImageBuilder(Inputs in, Consumer<String> log) {
    this.in = in;
    this.log = log;
  }

  /** Builds every image (the pause image only with a pause binary), tagged {@code tag}. */
  public Map<Kind, Built> buildAll(Target target, String tag)
      throws IOException, InterruptedException {
    Map<Kind, Built> built = new LinkedHashMap<>();
    Files.createDirectories(in.workDir());
    // A wrong torch site fails before anything is packed.
    Optional<List<FileEntriesLayer>> cudaLayers =
        in.cudaTorchSite().isPresent()
            ? Optional.of(cudaLayers(in.cudaTorchSite().get()))
            : Optional.empty();
    BaseImage base = BaseImage.prepare(in.baseRootfs(), in.workDir());
    log.accept(
        "base files="
            + base.tree().fileCount()
            + " skippedLinks="
            + base.tree().skippedLinks()
            + " rootfs="
            + in.baseRootfs());
    List<FileEntriesLayer> baseLayers = base.layers();

    built.put(Kind.BASE, containerize(Kind.BASE, javaImage(baseLayers), target, tag));

    JibContainerBuilder controller =
        appImage(baseLayers, "kaito-controller", List.of())
            .setEntrypoint(javaEntrypoint("sh.kaito.controller.OperatorMain"))
            .setExposedPorts(Set.of(Port.tcp(9443), Port.tcp(8080), Port.tcp(8081)));
    built.put(Kind.CONTROLLER, containerize(Kind.CONTROLLER, controller, target, tag));

    JibContainerBuilder provisioner =
        appImage(baseLayers, "kaito-provisioner", List.of())
            .setEntrypoint(javaEntrypoint("sh.kaito.provisioner.ProvisionerMain"))
            .setExposedPorts(Set.of(Port.tcp(8081)));
    built.put(Kind.PROVISIONER, containerize(Kind.PROVISIONER, provisioner, target, tag));

    List<Path> runtimeClasspath = classpath("kaito-runtime");
    DjlNatives natives = DjlNatives.unpack(runtimeClasspath, in.cacheDir(), "cpu");
    Map<String, String> cpuEnv = new LinkedHashMap<>();
    cpuEnv.put("DJL_CACHE_DIR", DjlNatives.IMAGE_DIR);
    cpuEnv.put("PYTORCH_LIBRARY_PATH", natives.libtorchPath());
    cpuEnv.put("PYTORCH_FLAVOR", "cpu");
    JibContainerBuilder runtime = runtimeImage(baseLayers, List.of(nativesLayer(natives)), cpuEnv);
    built.put(Kind.RUNTIME, containerize(Kind.RUNTIME, runtime, target, tag));

    if (cudaLayers.isPresent()) {
      Map<String, String> cudaEnv = new LinkedHashMap<>();
      // DJL unpacks its cu128 JNI library (4 MB, from pytorch-jni) here at start: pods mount an
      // emptyDir at /tmp. libcuda.so.1 comes from the node's driver (NVIDIA's container runtime).
      cudaEnv.put("DJL_CACHE_DIR", "/tmp/djl");
      cudaEnv.put("PYTORCH_LIBRARY_PATH", TORCH_SITE_DIR + "/torch/lib");
      cudaEnv.put("PYTORCH_FLAVOR", "cu128");
      cudaEnv.put("KAITO_DEVICE", "cuda");
      JibContainerBuilder cuda = runtimeImage(baseLayers, cudaLayers.get(), cudaEnv);
      built.put(Kind.RUNTIME_CUDA, containerize(Kind.RUNTIME_CUDA, cuda, target, tag));
    }

    if (in.curlRootfs().isPresent()) {
      Path curlTree = in.curlRootfs().get();
      if (!Files.isExecutable(curlTree.resolve("usr/bin/curl"))) {
        throw new IOException(curlTree + " has no usr/bin/curl: run hack/setup/40-base-image.sh");
      }
      // Over the base layers (which a node already holds for the runtime): only curl's own
      // packages are new.
      JibContainerBuilder curl =
          javaImage(baseLayers)
              .addFileEntriesLayer(RootFs.read(curlTree).layer("curl"))
              // No entrypoint: `kubectl run … -- curl -X POST …` (the seed's last step) gives the
              // whole command, as with curlimages/curl; alone the image prints curl's version.
              .setEntrypoint((List<String>) null)
              .setProgramArguments(List.of("curl", "--version"))
              .setLabels(labels("kaito-curl"));
      built.put(Kind.CURL, containerize(Kind.CURL, curl, target, tag));
    }

    if (in.pauseBinary().isPresent()) {
      Path pause = in.pauseBinary().get();
      if (!Files.isRegularFile(pause)) {
        throw new IOException(pause + " is missing: run hack/setup/45-containerd.sh");
      }
      JibContainerBuilder pauseImage =
          Jib.fromScratch()
              .setFormat(ImageFormat.OCI)
              .setCreationTime(Instant.EPOCH)
              .setPlatforms(Set.of(new Platform("amd64", "linux")))
              .addFileEntriesLayer(
                  FileEntriesLayer.builder()
                      .setName("pause")
                      .addEntry(BaseImage.entry(pause, "/pause", EXECUTABLE, "0:0"))
                      .build())
              .setEntrypoint(List.of("/pause"))
              .setUser(String.valueOf(65535))
              .setLabels(labels("kaito-pause"));
      built.put(Kind.PAUSE, containerize(Kind.PAUSE, pauseImage, target, tag));
    }
    return built;
  }

  /** The command the controller's pod specs call ({@code Manifests.RUNTIME_BINARY}). */
  public static final String RUNTIME_COMMAND = "kaito-runtime";

  static final String RUNTIME_SCRIPT =
      """
      #!/bin/sh
      # kaito-runtime VERB ...: the command of every pod the Kaito controller writes (docs/images.md).
      # KAITO_JAVA_OPTS adds JVM flags; DJL finds libtorch under $PYTORCH_LIBRARY_PATH, offline.
      exec java ${KAITO_JAVA_OPTS} -Dai.djl.offline=true -cp '/app/libs/*' \\
        sh.kaito.runtime.cli.RuntimeMain "$@"
      """;

  /** The runtime's jars and script on the base, with a libtorch and where DJL finds it. */
  private JibContainerBuilder runtimeImage(
      List<FileEntriesLayer> baseLayers, List<FileEntriesLayer> libtorch, Map<String, String> env)
      throws IOException {
    JibContainerBuilder b = appImage(baseLayers, "kaito-runtime", libtorch);
    env.forEach(b::addEnvironmentVariable);
    return b.addEnvironmentVariable("DJL_DEFAULT_ENGINE", "PyTorch")
        .setEntrypoint(List.of(RUNTIME_COMMAND))
        .setProgramArguments(List.of("--help"))
        .setExposedPorts(Set.of(Port.tcp(5000)));
  }

  private static List<String> javaEntrypoint(String mainClass) {
    return List.of("java", "-cp", "/app/libs/*", mainClass);
  }

  private JibContainerBuilder javaImage(List<FileEntriesLayer> baseLayers) {
    JibContainerBuilder b =
        Jib.fromScratch()
            .setFormat(ImageFormat.OCI)
            .setCreationTime(Instant.EPOCH)
            .setPlatforms(Set.of(new Platform("amd64", "linux")))
            .setEnvironment(BaseImage.environment())
            .setUser(BaseImage.USER)
            .setWorkingDirectory(AbsoluteUnixPath.get(BaseImage.HOME))
            .setLabels(labels("kaito-base"));
    baseLayers.forEach(b::addFileEntriesLayer);
    return b;
  }

  /**
   * The base plus a module's jars in {@code /app/libs}: third-party jars in one layer, Kaito's own
   * (which change on every commit) in another.
   */
  private JibContainerBuilder appImage(
      List<FileEntriesLayer> baseLayers, String module, List<FileEntriesLayer> extraLayers)
      throws IOException {
    List<Path> jars = new ArrayList<>(classpath(module));
    FileEntriesLayer.Builder dependencies = FileEntriesLayer.builder().setName("dependencies");
    FileEntriesLayer.Builder kaito = FileEntriesLayer.builder().setName("kaito");
    Set<String> names = new HashSet<>();
    for (Path jar : jars) {
      String name = jar.getFileName().toString();
      if (name.startsWith("pytorch-native-")) {
        continue; // unpacked into /opt/djl instead (DjlNatives)
      }
      if (!names.add(name)) {
        throw new IOException(module + ": two jars named " + name + " on the classpath");
      }
      boolean ours = name.startsWith("kaito-");
      (ours ? kaito : dependencies)
          .addEntry(BaseImage.entry(jar, "/app/libs/" + name, FILE, "0:0"));
    }
    if (module.equals("kaito-runtime")) {
      Path script =
          Files.createDirectories(in.workDir().resolve("runtime")).resolve(RUNTIME_COMMAND);
      Files.writeString(script, RUNTIME_SCRIPT);
      kaito.addEntry(
          BaseImage.entry(script, "/usr/local/bin/" + RUNTIME_COMMAND, EXECUTABLE, "0:0"));
    }
    JibContainerBuilder b = javaImage(baseLayers).setLabels(labels(module));
    extraLayers.forEach(b::addFileEntriesLayer);
    b.addFileEntriesLayer(dependencies.build());
    b.addFileEntriesLayer(kaito.build());
    return b;
  }

  /**
   * A CUDA torch's {@code torch/lib}, each {@code nvidia/<package>/lib} and {@code cusparselt/lib}
   * as layers (one per package: cuDNN and cuBLAS alone are hundreds of MB), kept at the same
   * relative places under {@link #TORCH_SITE_DIR}, since libtorch_cuda finds them through {@code
   * $ORIGIN/../../nvidia/…} RPATHs.
   */
  static List<FileEntriesLayer> cudaLayers(Path site) throws IOException {
    Path torchLib = site.resolve("torch/lib");
    if (!Files.isRegularFile(torchLib.resolve("libtorch_cuda.so"))) {
      throw new IOException(
          site
              + " holds no CUDA torch (torch/lib/libtorch_cuda.so): pip install torch=="
              + CUDA_TORCH_VERSION
              + " into it (hack/images/cuda-torch.sh)");
    }
    Path version = site.resolve("torch/version.py");
    if (Files.isRegularFile(version)
        && !Files.readString(version).contains("'" + CUDA_TORCH_VERSION)) {
      throw new IOException(
          site + "/torch is not " + CUDA_TORCH_VERSION + ", the version DJL's JNI library needs");
    }
    List<FileEntriesLayer> layers = new ArrayList<>();
    layers.add(treeLayer("torch-lib", torchLib, TORCH_SITE_DIR + "/torch/lib"));
    Path nvidia = site.resolve("nvidia");
    if (Files.isDirectory(nvidia)) {
      try (Stream<Path> packages = Files.list(nvidia)) {
        for (Path pkg :
            packages.filter(p -> Files.isDirectory(p.resolve("lib"))).sorted().toList()) {
          String name = pkg.getFileName().toString();
          layers.add(
              treeLayer(
                  "nvidia-" + name,
                  pkg.resolve("lib"),
                  TORCH_SITE_DIR + "/nvidia/" + name + "/lib"));
        }
      }
    }
    // cuSPARSELt installs beside nvidia/, not in it; libtorch_cuda needs it
    // ($ORIGIN/../../cusparselt).
    Path cusparselt = site.resolve("cusparselt/lib");
    if (Files.isDirectory(cusparselt)) {
      layers.add(treeLayer("cusparselt", cusparselt, TORCH_SITE_DIR + "/cusparselt/lib"));
    }
    return layers;
  }

  /** Every regular file under {@code dir} at {@code target}, readable by all, links followed. */
  static FileEntriesLayer treeLayer(String name, Path dir, String target) throws IOException {
    FileEntriesLayer.Builder layer = FileEntriesLayer.builder().setName(name);
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
        String rel = dir.relativize(f).toString();
        if (rel.endsWith(".pyc") || rel.contains("__pycache__")) {
          continue;
        }
        boolean executable =
            Files.getPosixFilePermissions(f)
                .contains(java.nio.file.attribute.PosixFilePermission.OWNER_EXECUTE);
        layer.addEntry(
            BaseImage.entry(f, target + "/" + rel, executable ? EXECUTABLE : FILE, "0:0"));
      }
    }
    return layer.build();
  }

  private static FileEntriesLayer nativesLayer(DjlNatives natives) throws IOException {
    FileEntriesLayer.Builder layer = FileEntriesLayer.builder().setName("libtorch");
    Path dir = natives.dir();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : files.sorted().toList()) {
        String rel = dir.relativize(f).toString();
        if (rel.isEmpty() || rel.equals(".complete")) {
          continue;
        }
        // DJL unpacks into 0700 temp folders: readable by all here, since the image's user is not
        // the root that unpacked them.
        boolean executable =
            Files.isDirectory(f)
                || Files.getPosixFilePermissions(f, LinkOption.NOFOLLOW_LINKS)
                    .contains(java.nio.file.attribute.PosixFilePermission.OWNER_EXECUTE);
        layer.addEntry(
            BaseImage.entry(
                f, DjlNatives.IMAGE_DIR + "/" + rel, executable ? EXECUTABLE : FILE, "0:0"));
      }
    }
    return layer.build();
  }

  /**
   * A module's runtime classpath: its jar and the list Maven wrote ({@code
   * target/runtime-classpath.txt}, the parent POM's build-classpath execution).
   */
  List<Path> classpath(String module) throws IOException {
    Path target = in.repoRoot().resolve(module).resolve("target");
    Path list = target.resolve("runtime-classpath.txt");
    Path jar = target.resolve(module + "-" + in.version() + ".jar");
    if (!Files.isRegularFile(list) || !Files.isRegularFile(jar)) {
      throw new IOException(
          module
              + " is not packaged ("
              + list
              + " or "
              + jar
              + " is missing): run ./mvnw -pl kaito-images -am package -DskipTests first");
    }
    List<Path> out = new ArrayList<>();
    out.add(jar);
    for (String entry : Files.readString(list).strip().split(java.io.File.pathSeparator)) {
      if (entry.isBlank()) {
        continue;
      }
      Path p = inCheckout(Path.of(entry));
      if (Files.isDirectory(p)) {
        throw new IOException(
            module + "'s classpath names the folder " + p + ": package the reactor first");
      }
      out.add(p);
    }
    return out;
  }

  /**
   * A Kaito jar from the local Maven repository (a build with {@code -pl} resolves siblings there)
   * is taken from this checkout's module instead, when it is packaged: the images hold what this
   * commit builds, never what another checkout installed into the shared repository.
   */
  private Path inCheckout(Path jar) {
    String name = jar.getFileName().toString();
    Path versionDir = jar.getParent();
    if (versionDir == null || versionDir.getParent() == null) {
      return jar;
    }
    String artifact = versionDir.getParent().getFileName().toString();
    if (artifact.startsWith("kaito-") && name.equals(artifact + "-" + in.version() + ".jar")) {
      Path own = in.repoRoot().resolve(artifact).resolve("target").resolve(name);
      if (Files.isRegularFile(own)) {
        return own;
      }
    }
    return jar;
  }

  private Map<String, String> labels(String title) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("org.opencontainers.image.title", title);
    labels.put("org.opencontainers.image.source", in.source());
    labels.put("org.opencontainers.image.version", in.version());
    labels.put("org.opencontainers.image.revision", in.revision());
    labels.put("org.opencontainers.image.licenses", "Apache-2.0");
    return labels;
  }

  private Built containerize(Kind kind, JibContainerBuilder image, Target target, String tag)
      throws IOException, InterruptedException {
    long start = System.nanoTime();
    try {
      Containerizer containerizer;
      String reference;
      if (target.registry().isPresent()) {
        reference = target.registry().get() + "/" + kind.repository + ":" + tag + kind.tagSuffix;
        RegistryImage registry = RegistryImage.named(reference);
        if (target.auth().isPresent()) {
          CredentialRetriever fromConfig =
              CredentialRetrieverFactory.forImage(ImageReference.parse(reference), e -> {})
                  .dockerConfig(target.auth().get());
          registry.addCredentialRetriever(fromConfig);
        }
        containerizer = Containerizer.to(registry).setAllowInsecureRegistries(target.insecure());
      } else {
        Path dir = Files.createDirectories(target.tarDir().orElseThrow());
        reference = "kaito/" + kind.repository + ":" + tag + kind.tagSuffix;
        containerizer =
            Containerizer.to(
                TarImage.at(dir.resolve(kind.repository + kind.tagSuffix + ".tar"))
                    .named(reference));
      }
      Path cache = in.cacheDir().resolve("jib-images");
      JibContainer container =
          image.containerize(
              containerizer
                  .setApplicationLayersCache(cache)
                  .setBaseImageLayersCache(cache)
                  .setToolName("kaito-images")
                  .setToolVersion(in.version()));
      Built built =
          new Built(
              kind, reference, container.getDigest().toString(), container.getImageId().toString());
      log.accept(
          String.format(
              "image=%s digest=%s seconds=%.1f",
              reference, built.digest(), (System.nanoTime() - start) / 1e9));
      return built;
    } catch (InvalidImageReferenceException e) {
      throw new IOException("bad image reference: " + e.getMessage(), e);
    } catch (ExecutionException | RegistryException | CacheDirectoryCreationException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IOException(
          "building "
              + kind.repository
              + " failed: "
              + cause.getClass().getSimpleName()
              + ": "
              + cause.getMessage(),
          e);
    }
  }
}
