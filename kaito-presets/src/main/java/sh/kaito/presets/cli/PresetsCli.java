package sh.kaito.presets.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import sh.kaito.presets.catalog.ModelPreset;
import sh.kaito.presets.catalog.PresetCatalog;
import sh.kaito.presets.gguf.GgufException;
import sh.kaito.presets.gguf.GgufFile;
import sh.kaito.presets.gguf.GgufToHf;
import sh.kaito.presets.image.AdapterImage;
import sh.kaito.presets.image.DockerConfig;
import sh.kaito.presets.image.HttpOciRegistry;
import sh.kaito.presets.image.ImageException;
import sh.kaito.presets.image.ImagePuller;
import sh.kaito.presets.image.ImageRef;
import sh.kaito.presets.image.ModelImageLayout;
import sh.kaito.presets.image.RegistryCredential;
import sh.kaito.presets.image.UncompressedWeightsPusher;
import sh.kaito.presets.image.WeightsImagePacker;

/**
 * {@code kaito-presets pack|push|pull|list}: model weights and adapters as OCI images, without
 * Docker. Exit codes: 0 done, 1 failed (a one-line message on stderr), 2 bad usage.
 */
@Command(
    name = "kaito-presets",
    mixinStandardHelpOptions = true,
    version = "kaito-presets 0.1.0",
    description = "Model weights and LoRA adapters as OCI images, without Docker.",
    subcommands = {
      PresetsCli.Pack.class,
      PresetsCli.Push.class,
      PresetsCli.Pull.class,
      PresetsCli.ImportGguf.class,
      PresetsCli.ListPresets.class
    })
public final class PresetsCli implements Callable<Integer> {

  static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(2);

  PrintStream out;
  PrintStream err;

  @Override
  public Integer call() {
    new CommandLine(this).usage(err);
    return 2;
  }

  public static void main(String[] args) {
    // No logging backend is bundled; keep SLF4J's "no providers" notice off the CLI's stderr.
    if (System.getProperty("slf4j.internal.verbosity") == null) {
      System.setProperty("slf4j.internal.verbosity", "ERROR");
    }
    System.exit(run(args, System.out, System.err));
  }

  /** Runs the CLI and returns its exit code; for tests and embedding. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    PresetsCli root = new PresetsCli();
    root.out = out;
    root.err = err;
    CommandLine cl = new CommandLine(root);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          if (ex instanceof ImageException) {
            err.println("error: " + ex.getMessage());
            return 1;
          }
          err.println("error: " + ex);
          ex.printStackTrace(err);
          return 1;
        });
    return cl.execute(args);
  }

  abstract static class Base implements Callable<Integer> {
    @CommandLine.ParentCommand PresetsCli root;

    @Option(
        names = "--quiet",
        description = "No progress lines; only the result.",
        defaultValue = "false")
    boolean quiet;

    void progress(String line) {
      if (!quiet) {
        root.err.println(line);
      }
    }

    @Override
    public Integer call() throws Exception {
      return execute();
    }

    abstract int execute() throws ImageException;
  }

  abstract static class RegistryCommand extends Base {
    @Option(
        names = "--docker-config",
        paramLabel = "FILE",
        description =
            "Registry credentials in docker config.json form, the key of a"
                + " dockerconfigjson Secret (default: $DOCKER_CONFIG/config.json, then"
                + " ~/.docker/config.json, then anonymous)")
    Path dockerConfig;

    @Option(
        names = "--insecure",
        description = "Use plain HTTP (loopback registries always do).",
        defaultValue = "false")
    boolean insecure;

    DockerConfig config() throws ImageException {
      return dockerConfig != null
          ? DockerConfig.read(dockerConfig)
          : DockerConfig.fromEnvironment();
    }

    static String sourceOf(DockerConfig config) {
      return config.source() == null
          ? "any docker config (none given, no ~/.docker/config.json)"
          : config.source().toString();
    }

    HttpOciRegistry registryFor(ImageRef ref, DockerConfig config) {
      return new HttpOciRegistry(
          ref.registry(), config.credentialFor(ref.registry()), sourceOf(config), insecure);
    }
  }

  /** What to pack: options shared by pack and push. */
  static final class PackOptions {
    @Option(names = "--adapter", description = "A LoRA adapter, in upstream's layout.")
    boolean adapter;

    @Option(names = "--preset", paramLabel = "NAME", description = "Preset name to record.")
    String preset;

    @Option(
        names = "--cache",
        paramLabel = "DIR",
        description = "Layer cache (default: $KAITO_CACHE/jib-layers).")
    Path cache;

    AdapterImage adapterImage(Path dir) throws ImageException {
      return AdapterImage.build(dir, annotations(preset));
    }

    WeightsImagePacker packer(Base command) {
      return new WeightsImagePacker(
          cache != null ? cache : defaultCache(), command::progress, PROGRESS_INTERVAL);
    }

    static String result(WeightsImagePacker.PackResult r) {
      return String.format(
          Locale.ROOT,
          "digest=%s image=%s layers=%d files=%d bytes=%d",
          r.digest(),
          r.imageReference(),
          r.layers(),
          r.files(),
          r.bytes());
    }
  }

  static Path defaultCache() {
    String kaitoCache = System.getenv("KAITO_CACHE");
    Path base =
        kaitoCache != null && !kaitoCache.isBlank()
            ? Path.of(kaitoCache)
            : Path.of(System.getProperty("user.home"), ".cache", "kaito-java");
    return base.resolve("jib-layers");
  }

  static Map<String, String> annotations(String preset) {
    Map<String, String> a = new LinkedHashMap<>();
    if (preset != null) {
      a.put(ModelImageLayout.MODEL_NAME_ANNOTATION, preset);
    }
    return a;
  }

  @Command(
      name = "pack",
      mixinStandardHelpOptions = true,
      description = {
        "Pack a model directory (or, with --adapter, a LoRA adapter directory) into an OCI image"
            + " tar file, without a registry.",
        "Weights go under "
            + ModelImageLayout.WEIGHTS_DIR
            + ", one layer per file of 16 MiB or"
            + " more; adapters under "
            + ModelImageLayout.ADAPTER_DIR
            + " in upstream Kaito's"
            + " single-layer layout (an OCI image layout tar).",
        "Packing the same directory twice gives the same digest."
      })
  static final class Pack extends Base {
    @Parameters(index = "0", paramLabel = "DIR", description = "Model or adapter directory.")
    Path dir;

    @Option(
        names = {"-o", "--output"},
        required = true,
        paramLabel = "FILE",
        description = "Image tar file to write.")
    Path output;

    @Option(
        names = "--image",
        paramLabel = "NAME",
        defaultValue = "kaito/model:latest",
        description = "Name recorded in the tar (default: ${DEFAULT-VALUE}).")
    String image;

    @CommandLine.Mixin PackOptions pack;

    @Override
    int execute() throws ImageException {
      if (pack.adapter) {
        AdapterImage img = pack.adapterImage(dir);
        img.writeOciLayoutTar(output, ImageRef.parse(image).reference());
        root.out.printf("digest=%s image=%s layers=1%n", img.digest(), output);
        return 0;
      }
      root.out.println(
          PackOptions.result(
              pack.packer(this)
                  .pack(dir, pack.preset, new WeightsImagePacker.Target.Tar(output, image))));
      return 0;
    }
  }

  @Command(
      name = "push",
      mixinStandardHelpOptions = true,
      description = {
        "Pack a model directory (or, with --adapter, a LoRA adapter directory) and push it to a"
            + " registry.",
        "Credentials come from a docker config.json; progress lines show %%, MB/s and ETA."
      })
  static final class Push extends RegistryCommand {
    @Parameters(index = "0", paramLabel = "DIR", description = "Model or adapter directory.")
    Path dir;

    @Parameters(
        index = "1",
        paramLabel = "IMAGE",
        description = "Destination, e.g. myregistry.azurecr.io/models/phi-3:1.")
    String image;

    @CommandLine.Mixin PackOptions pack;

    @Option(
        names = "--uncompressed",
        description =
            "Weights only: store layers as uncompressed OCI tar layers and push them directly"
                + " (no gzip; several times faster for incompressible weights).")
    boolean uncompressed;

    @Override
    int execute() throws ImageException {
      ImageRef ref = ImageRef.parse(image);
      DockerConfig config = config();
      if (pack.adapter) {
        String digest =
            pack.adapterImage(dir)
                .push(registryFor(ref, config), ref.repository(), ref.reference());
        root.out.printf("digest=%s image=%s layers=1%n", digest, ref);
        return 0;
      }
      if (uncompressed) {
        Path work = (pack.cache != null ? pack.cache : defaultCache()).resolve("uncompressed");
        root.out.println(
            PackOptions.result(
                new UncompressedWeightsPusher(
                        registryFor(ref, config), work, this::progress, PROGRESS_INTERVAL)
                    .push(dir, pack.preset, ref.repository(), ref.reference())));
        return 0;
      }
      Optional<RegistryCredential> credential = config.credentialFor(ref.registry());
      root.out.println(
          PackOptions.result(
              pack.packer(this)
                  .pack(
                      dir,
                      pack.preset,
                      new WeightsImagePacker.Target.Registry(
                          image, credential, sourceOf(config), insecure))));
      return 0;
    }
  }

  @Command(
      name = "pull",
      mixinStandardHelpOptions = true,
      description = {
        "Pull an image and extract the files under one of its directories into DIR, verifying"
            + " every blob's digest (what Kaito's init containers run).",
        "DIR must be missing or empty; files appear there only when everything verified."
      })
  static final class Pull extends RegistryCommand {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "Image to pull.")
    String image;

    @Parameters(index = "1", paramLabel = "DIR", description = "Target directory.")
    Path dir;

    @Option(
        names = "--path",
        paramLabel = "PATH",
        defaultValue = "/",
        description =
            "Directory in the image to extract: "
                + ModelImageLayout.WEIGHTS_DIR
                + " for weights images, "
                + ModelImageLayout.ADAPTER_DIR
                + " for adapters (default: ${DEFAULT-VALUE}, everything).")
    String path;

    @Override
    int execute() throws ImageException {
      ImageRef ref = ImageRef.parse(image);
      ImagePuller.PullResult r =
          new ImagePuller(registryFor(ref, config()), this::progress, PROGRESS_INTERVAL)
              .pull(ref.repository(), ref.reference(), path, dir);
      root.out.printf(
          "digest=%s image=%s files=%d bytes=%d layers=%d dir=%s%n",
          r.manifestDigest(), ref, r.files(), r.bytes(), r.layers(), dir);
      return 0;
    }
  }

  @Command(
      name = "import-gguf",
      mixinStandardHelpOptions = true,
      description = {
        "Convert a Llama GGUF (F32, F16, Q8_0, Q4_1 tensors; GPT-2 BPE tokenizer) into a Hugging"
            + " Face model directory (float32 safetensors, tokenizer.json, tokenizer_config.json"
            + " with the GGUF's chat template) that the runtime serves and tunes, and that push"
            + " packs into a weights image.",
        "DIR must be missing or empty."
      })
  static final class ImportGguf extends Base {
    @Parameters(index = "0", paramLabel = "GGUF", description = "The .gguf file.")
    Path gguf;

    @Parameters(index = "1", paramLabel = "DIR", description = "Model directory to write.")
    Path dir;

    @Override
    int execute() throws ImageException {
      try {
        GgufToHf.Result r = GgufToHf.convert(GgufFile.open(gguf), dir, this::progress);
        root.out.printf(
            Locale.ROOT,
            "dir=%s architecture=%s tensors=%d bytes=%d%n",
            r.dir(),
            r.architecture(),
            r.tensors(),
            r.weightBytes());
        return 0;
      } catch (GgufException e) {
        throw new ImageException(e.getMessage(), e);
      } catch (java.io.IOException e) {
        throw new ImageException("cannot convert " + gguf + " into " + dir + ": " + e, e);
      }
    }
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "List the model catalog: name, weights, GPUs, tuning.")
  static final class ListPresets extends Base {
    @Override
    int execute() {
      root.out.printf(
          Locale.ROOT,
          "%-28s %-10s %-5s %-10s %-7s %s%n",
          "NAME",
          "WEIGHTS",
          "GPUS",
          "GPU-MEM",
          "TUNING",
          "STATUS");
      for (ModelPreset p : PresetCatalog.builtIn().all()) {
        root.out.printf(
            Locale.ROOT,
            "%-28s %-10s %-5d %-10s %-7s %s%n",
            p.name(),
            p.weights().human(),
            p.inference().gpu().count(),
            p.inference().gpu().totalMemory(),
            p.supportsTuning() ? "yes" : "no",
            p.deprecated() ? "deprecated" : p.cpu() ? "cpu" : "");
      }
      return 0;
    }
  }
}
