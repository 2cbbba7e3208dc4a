package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sh.kaito.runtime.server.TinyModels;

/**
 * {@code kaito-runtime serve} as the StatefulSet runs it: a child JVM with the command line the
 * controller writes (adapters from a directory and from {@code --adapter}, strengths from the
 * environment), answering on its port until SIGTERM.
 */
class ServeCommandIT {

  private static final Pattern LISTENING =
      Pattern.compile("server listening host=\\S+ port=(\\d+)");

  @TempDir Path tmp;

  @Test
  void servesTheModelAndItsAdaptersUntilSigterm() throws Exception {
    Path weights = TinyModels.model(tmp.resolve("weights"), 128, 5);
    TinyModels.adapter(tmp.resolve("adapters/alpha"), 1);
    Path extra = TinyModels.adapter(tmp.resolve("elsewhere/extra"), 2);
    List<String> command = new ArrayList<>();
    command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Dai.djl.offline=true");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(RuntimeMain.class.getName());
    command.addAll(
        List.of(
            "serve",
            "--preset",
            "tiny-preset",
            "--weights",
            weights.toString(),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--adapters-dir",
            tmp.resolve("adapters").toString(),
            "--adapter",
            "extra=" + extra));
    Path log = tmp.resolve("serve.log");
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.redirectOutput(log.toFile());
    pb.environment().put("alpha", "0.25");
    pb.environment().put("PYTORCH_FLAVOR", "cpu");
    pb.environment().put("DJL_DEFAULT_ENGINE", "PyTorch");
    Process p = pb.start();
    try {
      int port = waitForPort(p, log);
      HttpClient http = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + port;
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      int health = 0;
      while (System.nanoTime() < deadline && health != 200) {
        health = get(http, base + "/health").statusCode();
        if (health != 200) {
          assertThat(health).as(Files.readString(log)).isEqualTo(503);
          Thread.sleep(100);
        }
      }
      assertThat(health).as(Files.readString(log)).isEqualTo(200);

      JsonNode models = new ObjectMapper().readTree(get(http, base + "/v1/models").body());
      List<String> ids = new ArrayList<>();
      models.path("data").forEach(m -> ids.add(m.path("id").asText()));
      assertThat(ids).containsExactly("tiny-preset", "alpha", "extra");

      HttpResponse<String> chat =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/chat"))
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"prompt\": \"Hi\", \"generate_kwargs\": {\"max_new_tokens\": 4}}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
      assertThat(new ObjectMapper().readTree(chat.body()).path("Result").asText()).startsWith("Hi");
      assertThat(Files.readString(log))
          .contains("adapter loaded name=alpha")
          .contains("strength=0.25")
          .contains("adapter loaded name=extra")
          // The CPU build of libtorch: the log says the model runs on the CPU, and why.
          .contains("serve device=cpu (float32 on the CPU; libtorch sees 0 GPU(s)");

      p.destroy(); // SIGTERM, as the kubelet stops the pod
      assertThat(p.waitFor(1, TimeUnit.MINUTES)).isTrue();
      assertThat(Files.readString(log)).contains("shutting down");
    } finally {
      p.destroyForcibly();
    }
  }

  private static int waitForPort(Process p, Path log) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (System.nanoTime() < deadline) {
      Matcher m = LISTENING.matcher(Files.readString(log));
      if (m.find()) {
        return Integer.parseInt(m.group(1));
      }
      assertThat(p.isAlive()).as(Files.readString(log)).isTrue();
      Thread.sleep(100);
    }
    throw new AssertionError("no 'server listening' line:\n" + Files.readString(log));
  }

  private static HttpResponse<String> get(HttpClient http, String url) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aModelThatDoesNotLoadExitsWith1() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        RuntimeMain.run(
            new String[] {
              "serve",
              "--weights",
              tmp.resolve("missing").toString(),
              "--host",
              "127.0.0.1",
              "--port",
              "0"
            },
            new PrintStream(new ByteArrayOutputStream()),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(code).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("no config.json");
  }

  @Test
  void badUsageExitsWith2AndABadAdapterFlagWith1() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream errs = new PrintStream(err, true, StandardCharsets.UTF_8);
    PrintStream out = new PrintStream(new ByteArrayOutputStream());
    assertThat(RuntimeMain.run(new String[] {"serve"}, out, errs)).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--weights");
    assertThat(
            RuntimeMain.run(
                new String[] {"serve", "--weights", tmp.toString(), "--adapter", "noequals"},
                out,
                errs))
        .isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--adapter takes NAME=DIR");
  }
}
