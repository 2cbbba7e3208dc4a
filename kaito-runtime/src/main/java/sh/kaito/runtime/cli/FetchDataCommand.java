package sh.kaito.runtime.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
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
  private static final int BUFFER = 1 << 16;

  @Spec CommandSpec spec;

  @Option(names = "--to", required = true, paramLabel = "DIR", description = "Target directory.")
  Path to;

  @Parameters(arity = "1..*", paramLabel = "URL", description = "http(s) URLs to download.")
  List<String> urls;

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
      long bytes = download(http, d, to, spec.commandLine().getErr());
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

  /** Streams one URL into {@code dir}; returns the byte count. */
  static long download(HttpClient http, Download d, Path dir, PrintWriter log)
      throws CommandFailure {
    String url = redacted(d.uri());
    Path base = dir.toAbsolutePath().normalize();
    Path target = base.resolve(d.fileName()).normalize();
    if (!base.equals(target.getParent())) {
      throw new CommandFailure(url + " would be saved outside " + dir);
    }
    HttpRequest request =
        HttpRequest.newBuilder(d.uri()).header("User-Agent", "kaito-runtime").GET().build();
    HttpResponse<InputStream> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw new CommandFailure("cannot fetch " + url + ": " + describe(e), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CommandFailure("interrupted while fetching " + url, e);
    }
    Path partial = null;
    try (InputStream body = response.body()) {
      if (response.statusCode() != 200) {
        throw new CommandFailure(
            "cannot fetch " + url + ": the server answered " + response.statusCode() + ", not 200");
      }
      long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
      Progress progress =
          length > 0
              ? new Progress("fetch-data " + d.fileName(), length, log::println, PROGRESS_INTERVAL)
              : null;
      partial = Files.createTempFile(base, "." + d.fileName() + ".", ".partial");
      long bytes = 0;
      try (OutputStream out = Files.newOutputStream(partial)) {
        byte[] buf = new byte[BUFFER];
        for (int n; (n = body.read(buf)) >= 0; ) {
          out.write(buf, 0, n);
          bytes += n;
          if (progress != null) {
            progress.advance(n);
          }
        }
      }
      if (bytes == 0) {
        throw new CommandFailure("cannot fetch " + url + ": the server sent an empty body");
      }
      if (length >= 0 && bytes != length) {
        throw new CommandFailure(
            "cannot fetch " + url + ": got " + bytes + " of " + length + " bytes");
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

  private static String describe(IOException e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
