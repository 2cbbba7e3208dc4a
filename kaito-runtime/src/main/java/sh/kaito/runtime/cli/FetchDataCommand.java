package sh.kaito.runtime.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import sh.kaito.presets.image.Progress;

/**
 * {@code fetch-data --to DIR URL...}: the tuning Job's {@code data-downloader} init container. Each
 * URL lands in {@code DIR/<basename>}, streamed to a hidden temp file in {@code DIR} and renamed
 * into place only when complete, so a failed download leaves nothing half-written.
 */
@Command(
    name = "fetch-data",
    mixinStandardHelpOptions = true,
    description = {
      "Download each URL (http or https) into DIR/<last path segment>, without ?query or"
          + " #fragment.",
      "Fails on a non-200 answer or an empty body; a failed download leaves no file behind."
    })
final class FetchDataCommand implements Callable<Integer> {

  static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(5);

  @Spec CommandSpec spec;

  @Option(names = "--to", required = true, paramLabel = "DIR", description = "Target directory.")
  Path to;

  @Parameters(arity = "1..*", paramLabel = "URL", description = "http(s) URLs to download.")
  List<String> urls;

  @Option(
      names = "--stall-timeout",
      paramLabel = "SECONDS",
      defaultValue = "120",
      description =
          "Fail a download when nothing arrives for this long (default: ${DEFAULT-VALUE}).")
  int stallSeconds;

  /** One planned download. */
  record Download(URI uri, String fileName) {}

  @Override
  public Integer call() throws CommandFailure {
    List<Download> plan;
    try {
      plan = plan(urls);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    try {
      Files.createDirectories(to);
    } catch (IOException e) {
      throw new CommandFailure("cannot create " + to + ": " + e.getMessage(), e);
    }
    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(30))
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
    PrintWriter out = spec.commandLine().getOut();
    for (Download d : plan) {
      long bytes =
          download(http, d, to, Duration.ofSeconds(stallSeconds), spec.commandLine().getErr());
      out.printf(
          Locale.ROOT,
          "file=%s bytes=%d url=%s%n",
          to.resolve(d.fileName()),
          bytes,
          redacted(d.uri()));
    }
    return RuntimeMain.OK;
  }

  /**
   * Checks every URL before anything is downloaded: http(s) only, a usable file name, no two URLs
   * with the same file name.
   *
   * @throws IllegalArgumentException naming the offending URL
   */
  static List<Download> plan(List<String> urls) {
    Map<String, String> byName = new LinkedHashMap<>();
    List<Download> plan = new ArrayList<>();
    for (String url : urls) {
      URI uri = parse(url);
      String name = fileName(uri);
      String earlier = byName.putIfAbsent(name, url);
      if (earlier != null) {
        throw new IllegalArgumentException(
            "URLs "
                + redacted(parse(earlier))
                + " and "
                + redacted(uri)
                + " would both be saved as "
                + name);
      }
      plan.add(new Download(uri, name));
    }
    return plan;
  }

  private static URI parse(String url) {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("not a valid URL: " + url);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new IllegalArgumentException(
          "only http and https URLs can be fetched, not " + redacted(uri));
    }
    if (uri.getHost() == null) {
      throw new IllegalArgumentException("URL has no host: " + redacted(uri));
    }
    return uri;
  }

  /**
   * The last segment of the decoded path: {@code https://h/d/train.jsonl?sig=x#y} is {@code
   * train.jsonl}. Empty names, {@code .}, {@code ..} and names that would leave the directory are
   * refused.
   */
  static String fileName(URI uri) {
    String path = uri.getPath() == null ? "" : uri.getPath();
    String name = path.substring(path.lastIndexOf('/') + 1);
    if (name.isEmpty() || name.equals(".") || name.equals("..")) {
      throw new IllegalArgumentException(
          "cannot name a file after " + redacted(uri) + ": its path has no file name");
    }
    if (name.indexOf('\\') >= 0 || name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(
          "cannot name a file after " + redacted(uri) + ": \"" + name + "\" is not a safe name");
    }
    return name;
  }

  /** The URL without user info and query, either of which may hold a secret (a SAS token). */
  static String redacted(URI uri) {
    String s =
        uri.getScheme()
            + "://"
            + uri.getHost()
            + (uri.getPort() >= 0 ? ":" + uri.getPort() : "")
            + (uri.getRawPath() == null ? "" : uri.getRawPath());
    return uri.getRawQuery() == null ? s : s + "?<redacted>";
  }

  /**
   * Streams one URL into {@code dir}; returns the byte count. Fails when the answer is not 200, the
   * body is empty or shorter than its {@code Content-Length}, or nothing arrives for {@code stall}
   * (before the headers or between body chunks).
   */
  static long download(HttpClient http, Download d, Path dir, Duration stall, PrintWriter log)
      throws CommandFailure {
    String url = redacted(d.uri());
    Path base = dir.toAbsolutePath().normalize();
    Path target = base.resolve(d.fileName()).normalize();
    if (!base.equals(target.getParent())) {
      throw new CommandFailure(url + " would be saved outside " + dir);
    }
    HttpRequest request =
        HttpRequest.newBuilder(d.uri())
            .header("User-Agent", "kaito-runtime")
            .timeout(stall) // until the headers arrive; the body is watched below
            .GET()
            .build();
    Path partial;
    try {
      partial = Files.createTempFile(base, "." + d.fileName() + ".", ".partial");
    } catch (IOException e) {
      throw new CommandFailure("cannot write into " + dir + ": " + describe(e), e);
    }
    try {
      long bytes;
      try (FileChannel file = FileChannel.open(partial, StandardOpenOption.WRITE)) {
        AtomicReference<FileBodySubscriber> body = new AtomicReference<>();
        HttpResponse.BodyHandler<Long> handler =
            info -> {
              if (info.statusCode() != 200) {
                return HttpResponse.BodySubscribers.replacing(-1L);
              }
              long length = info.headers().firstValueAsLong("Content-Length").orElse(-1);
              Progress progress =
                  length > 0
                      ? new Progress(
                          "fetch-data " + d.fileName(), length, log::println, PROGRESS_INTERVAL)
                      : null;
              FileBodySubscriber s =
                  new FileBodySubscriber(
                      file,
                      n -> {
                        if (progress != null) {
                          progress.advance(n);
                        }
                      });
              body.set(s);
              return s;
            };
        HttpResponse<Long> response = await(http.sendAsync(request, handler), body, stall, url);
        if (response.statusCode() != 200) {
          throw new CommandFailure(
              "cannot fetch "
                  + url
                  + ": the server answered "
                  + response.statusCode()
                  + ", not 200");
        }
        bytes = response.body();
        long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
        if (bytes == 0) {
          throw new CommandFailure("cannot fetch " + url + ": the server sent an empty body");
        }
        if (length >= 0 && bytes != length) {
          throw new CommandFailure(
              "cannot fetch " + url + ": got " + bytes + " of " + length + " bytes");
        }
      }
      Files.move(
          partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      partial = null;
      return bytes;
    } catch (IOException e) {
      throw new CommandFailure("cannot fetch " + url + " into " + target + ": " + describe(e), e);
    } finally {
      if (partial != null) {
        try {
          Files.deleteIfExists(partial);
        } catch (IOException e) {
          // a hidden leftover; the command fails anyway
        }
      }
    }
  }

  /** Waits for the response, giving up when the body has been silent for {@code stall}. */
  private static HttpResponse<Long> await(
      CompletableFuture<HttpResponse<Long>> response,
      AtomicReference<FileBodySubscriber> body,
      Duration stall,
      String url)
      throws CommandFailure {
    long checkMillis = Math.max(10, Math.min(1000, stall.toMillis() / 4));
    while (true) {
      try {
        return response.get(checkMillis, TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        FileBodySubscriber s = body.get();
        if (s != null && System.nanoTime() - s.lastDataNanos() > stall.toNanos()) {
          s.cancel();
          response.cancel(true);
          throw new CommandFailure(
              "cannot fetch "
                  + url
                  + ": no data for "
                  + stall.toSeconds()
                  + "s after "
                  + s.bytes()
                  + " bytes");
        }
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        String why =
            cause instanceof HttpTimeoutException
                ? "no answer within " + stall.toSeconds() + "s"
                : cause instanceof IOException io ? describe(io) : String.valueOf(cause);
        throw new CommandFailure("cannot fetch " + url + ": " + why, cause);
      } catch (InterruptedException e) {
        response.cancel(true);
        Thread.currentThread().interrupt();
        throw new CommandFailure("interrupted while fetching " + url, e);
      }
    }
  }

  private static String describe(IOException e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
