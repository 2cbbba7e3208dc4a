package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fetch-data} streams: a body several times the JVM's heap downloads in a separate {@code
 * kaito-runtime} process started with {@code -Xmx32m}, intact.
 */
class FetchDataStreamingIT {

  private static final long SIZE = 256L << 20;
  private static final int CHUNK = 1 << 20;

  @TempDir Path tmp;

  @Test
  @Timeout(300)
  void aBodyLargerThanTheHeapIsStreamedToDisk() throws Exception {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/shards/train.bin",
        ex -> {
          ex.sendResponseHeaders(200, SIZE);
          try (OutputStream out = ex.getResponseBody()) {
            Random random = new Random(42);
            byte[] chunk = new byte[CHUNK];
            for (long sent = 0; sent < SIZE; sent += CHUNK) {
              random.nextBytes(chunk);
              out.write(chunk);
            }
          }
        });
    server.start();
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/shards/train.bin";
      Path to = tmp.resolve("data");
      Process p =
          new ProcessBuilder(
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-Xmx32m",
                  "-XX:+ExitOnOutOfMemoryError",
                  "-cp",
                  System.getProperty("java.class.path"),
                  RuntimeMain.class.getName(),
                  "fetch-data",
                  "--to",
                  to.toString(),
                  url)
              .redirectErrorStream(true)
              .redirectOutput(tmp.resolve("out.txt").toFile())
              .start();
      boolean exited;
      try {
        exited = p.waitFor(240, TimeUnit.SECONDS);
      } finally {
        p.destroyForcibly();
      }
      assertThat(exited).isTrue();
      String output = Files.readString(tmp.resolve("out.txt"), StandardCharsets.UTF_8);

      assertThat(p.exitValue()).as(output).isZero();
      assertThat(output).contains("bytes=" + SIZE);
      try (Stream<Path> files = Files.list(to)) {
        assertThat(files.map(f -> f.getFileName().toString()).toList())
            .isEqualTo(List.of("train.bin"));
      }
      assertThat(sha256(to.resolve("train.bin"))).isEqualTo(expectedSha256());
    } finally {
      server.stop(0);
    }
  }

  private static String expectedSha256() throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    Random random = new Random(42);
    byte[] chunk = new byte[CHUNK];
    for (long done = 0; done < SIZE; done += CHUNK) {
      random.nextBytes(chunk);
      md.update(chunk);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[CHUNK];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
