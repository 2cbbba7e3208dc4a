package sh.kaito.controller.it;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import sh.kaito.controller.OperatorMain;

/** The operator as a separate JVM (this test's classpath), so a test can kill -9 it. */
final class ControllerProcess {
  private ControllerProcess() {}

  /** The JVM flags of deploy/controller.yaml (what we ship is what the tests and bench run). */
  static List<String> deployedJvmFlags() throws IOException {
    Path manifest = Path.of("..", "deploy", "controller.yaml");
    List<String> flags = new ArrayList<>();
    Object parsed = new KubernetesSerialization().unmarshal(Files.readString(manifest));
    for (Object o : parsed instanceof List<?> docs ? docs : List.of(parsed)) {
      if (o instanceof Deployment d) {
        for (String arg : d.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs()) {
          if (arg.startsWith("-X")) {
            flags.add(arg);
          }
        }
      }
    }
    if (flags.isEmpty()) {
      throw new IllegalStateException("no JVM flags found in " + manifest.toAbsolutePath());
    }
    return flags;
  }

  static Process start(Path kubeconfig, Path log, String... extraEnv) throws IOException {
    return start(kubeconfig, log, List.of(), extraEnv);
  }

  /**
   * @param jvmArgs JVM flags after the deployed ones (a later -Xmx wins), e.g. a starved heap or a
   *     test hook's system property
   */
  static Process start(Path kubeconfig, Path log, List<String> jvmArgs, String... extraEnv)
      throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>();
    command.add(java);
    command.addAll(deployedJvmFlags());
    command.addAll(jvmArgs);
    command.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
    // Extra JVM flags for investigations (they come last, so they win), e.g.
    // -Dkaito.controller.jvmArgs=-XX:StartFlightRecording=filename=/tmp/c.jfr
    String extra = System.getProperty("kaito.controller.jvmArgs", "").trim();
    if (!extra.isEmpty()) {
      command.addAll(List.of(extra.split("\\s+")));
    }
    command.addAll(
        List.of("-cp", System.getProperty("java.class.path"), OperatorMain.class.getName()));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("KUBECONFIG", kubeconfig.toString());
    pb.environment().put("KAITO_LEADER_ELECT", "false");
    pb.environment().put("KAITO_WEBHOOK_PORT", "0");
    pb.environment().put("KAITO_METRICS_PORT", "0");
    pb.environment().put("KAITO_HEALTH_PORT", "0");
    pb.environment().put("KAITO_BIND_ADDRESS", "127.0.0.1");
    pb.environment().put("KAITO_WORKERS", System.getProperty("kaito.bench.workers", "8"));
    for (int i = 0; i + 1 < extraEnv.length; i += 2) {
      pb.environment().put(extraEnv[i], extraEnv[i + 1]);
    }
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    return pb.start();
  }
}
