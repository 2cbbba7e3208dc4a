package sh.kaito.images;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * {@code java -cp <test-classes> sh.kaito.images.HttpGetMain URL}: a client inside a pod (our
 * images carry a JRE but no curl) that GETs the URL, prints {@code status=<code>} and the body, and
 * exits 0 only on 200. RealNodeIT runs it to call a Service from another pod.
 */
public final class HttpGetMain {
  private HttpGetMain() {}

  public static void main(String[] args) throws Exception {
    HttpResponse<String> r =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .build()
            .send(
                HttpRequest.newBuilder(URI.create(args[0])).timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString());
    System.out.println("status=" + r.statusCode());
    System.out.println(r.body());
    System.exit(r.statusCode() == 200 ? 0 : 1);
  }
}
