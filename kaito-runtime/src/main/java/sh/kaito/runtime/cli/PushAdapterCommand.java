package sh.kaito.runtime.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import sh.kaito.presets.image.AdapterImage;
import sh.kaito.presets.image.DockerConfig;
import sh.kaito.presets.image.HttpOciRegistry;
import sh.kaito.presets.image.ImageException;
import sh.kaito.presets.image.ImageRef;
import sh.kaito.presets.image.ModelImageLayout;

/**
 * {@code push-adapter DIR IMAGE --preset NAME --wait-for FILE [--docker-config FILE]}: the tuning
 * Job's {@code pusher} container. It waits for the tuner's marker file, then pushes the adapter in
 * upstream's layout with kaito-presets' {@link AdapterImage}.
 *
 * <p>The image reference and the docker config are checked before waiting, so a typo fails the pod
 * at once instead of after hours of training.
 */
@Command(
    name = "push-adapter",
    mixinStandardHelpOptions = true,
    description = {
      "Wait until FILE exists, then push the LoRA adapter in DIR (adapter_config.json,"
          + " adapter_model.safetensors) as IMAGE, in upstream Kaito's adapter image layout."
    })
final class PushAdapterCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "DIR", description = "The adapter directory.")
  Path dir;

  @Parameters(index = "1", paramLabel = "IMAGE", description = "Destination image.")
  String image;

  @Option(
      names = "--preset",
      required = true,
      paramLabel = "NAME",
      description = "Base model preset, recorded as the sh.kaito.model.name annotation.")
  String preset;

  @Option(
      names = "--wait-for",
      required = true,
      paramLabel = "FILE",
      description = "Marker file the tuner writes when the adapter is complete.")
  Path waitFor;

  @Option(
      names = "--docker-config",
      paramLabel = "FILE",
      description =
          "Registry credentials (docker config.json; default: $DOCKER_CONFIG/config.json or"
              + " ~/.docker/config.json, else anonymous).")
  Path dockerConfig;

  @Override
  public Integer call() throws ImageException, InterruptedException, CommandFailure {
    PrintWriter err = spec.commandLine().getErr();
    ImageRef ref = ImageRef.parse(image);
    DockerConfig config =
        dockerConfig != null ? DockerConfig.read(dockerConfig) : DockerConfig.fromEnvironment();
    RegistryLogins.Login login = RegistryLogins.fromConfig(config, ref.registry()).logins().get(0);

    new MarkerWait(MarkerWait.DEFAULT_POLL, MarkerWait.DEFAULT_LOG_EVERY, err::println)
        .await(waitFor);

    AdapterImage adapter =
        AdapterImage.build(dir, Map.of(ModelImageLayout.MODEL_NAME_ANNOTATION, preset));
    boolean plainHttp = RegistryLogins.plainHttp(ref.registry(), System.getenv(), err::println);
    HttpOciRegistry registry =
        new HttpOciRegistry(ref.registry(), login.credential(), login.source(), plainHttp);
    String digest = adapter.push(registry, ref.repository(), ref.reference());
    spec.commandLine()
        .getOut()
        .printf("digest=%s image=%s preset=%s dir=%s%n", digest, ref, preset, dir);
    return RuntimeMain.OK;
  }
}
