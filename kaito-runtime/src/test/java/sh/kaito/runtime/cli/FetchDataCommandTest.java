package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code fetch-data} against a real HTTP server on loopback. */
class FetchDataCommandTest {

  @TempDir Path tmp;
  private HttpServer server;
  private String base;
  private final Map<String, byte[]> bodies = new ConcurrentHashMap<>();
  private final AtomicInteger requests = new AtomicInteger();

  @BeforeEach
  void startServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", this::handle);
    server.start();
    base = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stopServer() {
    server.stop(0);
  }

  private void handle(HttpExchange ex) throws IOException {
    requests.incrementAndGet();
    String path = ex.getRequestURI().getPath();
    byte[] body = bodies.get(path);
    if (path.startsWith("/go/")) {
      ex.getResponseHeaders().add("Location", "/blobs/sha-" + path.substring(4) + "?signed=1");
      ex.sendResponseHeaders(302, -1);
    } else if (body == null) {
      ex.sendResponseHeaders(404, -1);
    } else if (body.length == 0) {
      ex.sendResponseHeaders(200, -1);
    } else {
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    }
    ex.close();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void downloadsEachUrlIntoItsBasename() throws IOException {
    bodies.put("/data/train.jsonl", utf8("{\"text\": \"a\"}\n{\"text\": \"b\"}\n"));
    bodies.put("/other/eval.parquet", new byte[] {1, 2, 3, 0, 4});
    Path to = tmp.resolve("data");

    RuntimeRun run =
        RuntimeRun.of(
            "fetch-data",
            "--to",
            to.toString(),
            base + "/data/train.jsonl",
            base + "/other/eval.parquet");

    assertThat(run.exit()).as(run.toString()).isZero();
    assertThat(to.resolve("train.jsonl")).hasBinaryContent(bodies.get("/data/train.jsonl"));
    assertThat(to.resolve("eval.parquet")).hasBinaryContent(new byte[] {1, 2, 3, 0, 4});
    assertThat(names(to)).containsExactlyInAnyOrder("train.jsonl", "eval.parquet");
    assertThat(run.out()).contains("file=" + to.resolve("train.jsonl") + " bytes=28");
  }

  @Test
  void stripsQueryAndFragmentAndKeepsTheQueryOutOfTheOutput() throws IOException {
    bodies.put("/c/train.jsonl", utf8("x\n"));

    RuntimeRun run =
        RuntimeRun.of(
            "fetch-data",
            "--to",
            tmp.toString(),
            base + "/c/train.jsonl?sv=2024&sig=SECRET-TOKEN#part");

    assertThat(run.exit()).as(run.toString()).isZero();
    assertThat(names(tmp)).containsExactly("train.jsonl");
    assertThat(run.out() + run.err()).doesNotContain("SECRET-TOKEN");
  }

  @Test
  void followsRedirectsAndNamesTheFileAfterTheUrlGiven() throws IOException {
    bodies.put("/blobs/sha-abc123", utf8("redirected\n"));

    RuntimeRun run = RuntimeRun.of("fetch-data", "--to", tmp.toString(), base + "/go/abc123");

    assertThat(run.exit()).as(run.toString()).isZero();
    assertThat(names(tmp)).containsExactly("abc123");
    assertThat(tmp.resolve("abc123")).hasContent("redirected");
  }

  @Test
  void a404FailsNamingTheUrlAndLeavesNoFile() throws IOException {
    bodies.put("/ok.txt", utf8("fine"));

    RuntimeRun run =
        RuntimeRun.of(
            "fetch-data", "--to", tmp.toString(), base + "/ok.txt", base + "/missing.jsonl");

    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.err().strip().lines()).hasSize(1);
    assertThat(run.errorLine())
        .isEqualTo(
            "error: cannot fetch " + base + "/missing.jsonl: the server answered 404, not 200");
    assertThat(names(tmp)).containsExactly("ok.txt");
  }

  @Test
  void anEmptyBodyFailsAndLeavesNoFile() throws IOException {
    bodies.put("/empty.jsonl", new byte[0]);

    RuntimeRun run = RuntimeRun.of("fetch-data", "--to", tmp.toString(), base + "/empty.jsonl");

    assertThat(run.exit()).as(run.toString()).isEqualTo(1);
    assertThat(run.errorLine())
        .isEqualTo("error: cannot fetch " + base + "/empty.jsonl: the server sent an empty body");
    assertThat(names(tmp)).isEmpty();
  }

  @Test
  @Timeout(60)
  void aBodyCutShortFailsAndLeavesNoPartialFile() throws Exception {
    // Promise 1 MiB, send half, close.
    byte[] head = utf8("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n");
    byte[] response = Arrays.copyOf(head, head.length + (1 << 19));
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Thread peer = rawPeer(socket, response, new CountDownLatch(0));
      String url = "http://127.0.0.1:" + socket.getLocalPort() + "/big.bin";

      RuntimeRun run = RuntimeRun.of("fetch-data", "--to", tmp.toString(), url);

      peer.join();
      assertThat(run.exit()).as(run.toString()).isEqualTo(1);
      assertThat(run.errorLine()).startsWith("error: cannot fetch " + url);
      assertThat(names(tmp)).isEmpty();
    }
  }

  @Test
  @Timeout(60)
  void aServerThatStopsSendingFailsAfterTheStallTimeout() throws Exception {
    assertSilentServerFails(
        utf8("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n" + "x".repeat(1000)),
        "no data for 1s after 1000 bytes");
  }

  @Test
  @Timeout(60)
  void aServerThatNeverAnswersFailsAfterTheStallTimeout() throws Exception {
    assertSilentServerFails(new byte[0], "no answer within 1s");
  }

  private void assertSilentServerFails(byte[] prefix, String why) throws Exception {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      CountDownLatch release = new CountDownLatch(1);
      Thread peer = rawPeer(socket, prefix, release);
      String url = "http://127.0.0.1:" + socket.getLocalPort() + "/slow.bin";
      long start = System.nanoTime();

      RuntimeRun run =
          RuntimeRun.of("fetch-data", "--to", tmp.toString(), "--stall-timeout", "1", url);

      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
      release.countDown();
      peer.join();
      assertThat(run.exit()).as(run.toString()).isEqualTo(1);
      assertThat(run.errorLine()).isEqualTo("error: cannot fetch " + url + ": " + why);
      assertThat(seconds).isLessThan(15);
      assertThat(names(tmp)).isEmpty();
    }
  }

  /**
   * A raw HTTP peer for what HttpServer will not do: reads one request, writes {@code response} as
   * is, keeps the connection open (and silent) until {@code close} opens, then closes it.
   */
  private static Thread rawPeer(ServerSocket socket, byte[] response, CountDownLatch close) {
    Thread peer =
        new Thread(
            () -> {
              try (Socket c = socket.accept()) {
                BufferedReader in =
                    new BufferedReader(
                        new InputStreamReader(c.getInputStream(), StandardCharsets.US_ASCII));
                for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
                  // request line and headers
                }
                c.getOutputStream().write(response);
                c.getOutputStream().flush();
                close.await(30, TimeUnit.SECONDS);
              } catch (IOException | InterruptedException e) {
                // the test fails on the client side if this goes wrong
              }
            });
    peer.start();
    return peer;
  }

  @Test
  void refusesOtherSchemesBeforeDownloadingAnything() {
    bodies.put("/a.txt", utf8("a"));
    for (String url : List.of("ftp://127.0.0.1/a.txt", "file:///etc/passwd", "a.txt")) {
      RuntimeRun run = RuntimeRun.of("fetch-data", "--to", tmp.toString(), base + "/a.txt", url);

      assertThat(run.exit()).as(run.toString()).isEqualTo(2);
      assertThat(run.err()).contains("only http and https URLs can be fetched");
    }
    assertThat(requests.get()).isZero();
  }

  @Test
  void refusesTwoUrlsWithTheSameFileName() {
    RuntimeRun run =
        RuntimeRun.of(
            "fetch-data",
            "--to",
            tmp.toString(),
            base + "/a/train.jsonl",
            base + "/b/train.jsonl?v=2");

    assertThat(run.exit()).as(run.toString()).isEqualTo(2);
    assertThat(run.err()).contains("would both be saved as train.jsonl");
    assertThat(requests.get()).isZero();
  }

  @Test
  void refusesUrlsWithoutAUsableFileName() {
    for (String path : List.of("/data/", "", "/data/..", "/data/%2e%2e", "/a/x%5C..%5Cy")) {
      RuntimeRun run = RuntimeRun.of("fetch-data", "--to", tmp.toString(), base + path);

      assertThat(run.exit()).as(path + ": " + run).isEqualTo(2);
      assertThat(run.err()).contains("cannot name a file after");
    }
    assertThat(requests.get()).isZero();
  }

  @Test
  void encodedSlashesCannotLeaveTheDirectory() throws IOException {
    Path to = Files.createDirectories(tmp.resolve("a/b"));
    bodies.put("/x/../../passwd", utf8("not really"));

    RuntimeRun run =
        RuntimeRun.of("fetch-data", "--to", to.toString(), base + "/x/..%2F..%2Fpasswd");

    // The name is the last segment of the decoded path: the file stays inside --to.
    assertThat(run.exit()).as(run.toString()).isZero();
    assertThat(names(to)).containsExactly("passwd");
    assertThat(tmp.resolve("passwd")).doesNotExist();
    assertThat(tmp.resolve("a/passwd")).doesNotExist();
  }

  private static List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).toList();
    }
  }
}
