package sh.kaito.runtime.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/**
 * HTTP/1.1 over a bare socket, for requests no well-behaved client sends: malformed framing,
 * invalid UTF-8, bodies sent slowly or cut off. Every request carries {@code Connection: close}, so
 * the response ends when the server closes.
 */
final class RawHttp {

  /** What came back: the status (-1: the server closed without a status line) and the body. */
  record Answer(int status, String head, String body) {}

  private RawHttp() {}

  /** {@code POST path} with {@code body} as given and a correct Content-Length. */
  static byte[] post(String path, byte[] body) {
    String head =
        "POST "
            + path
            + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Connection: close\r\nContent-Length: "
            + body.length
            + "\r\n\r\n";
    return concat(head.getBytes(StandardCharsets.ISO_8859_1), body);
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = new byte[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** Sends {@code request} whole and reads the answer until the server closes. */
  static Answer exchange(int port, byte[] request, int timeoutMillis) throws IOException {
    try (Socket s = connect(port, timeoutMillis)) {
      s.getOutputStream().write(request);
      s.getOutputStream().flush();
      return read(s.getInputStream());
    }
  }

  /**
   * Sends {@code request} in {@code chunk}-byte pieces {@code pauseMillis} apart (a slow client);
   * when {@code cutAt} ≥ 0 it closes the connection after that many bytes without reading.
   */
  static Answer slow(int port, byte[] request, int chunk, long pauseMillis, int cutAt, int timeout)
      throws IOException, InterruptedException {
    try (Socket s = connect(port, timeout)) {
      OutputStream out = s.getOutputStream();
      int end = cutAt >= 0 ? Math.min(cutAt, request.length) : request.length;
      for (int i = 0; i < end; i += chunk) {
        out.write(request, i, Math.min(chunk, end - i));
        out.flush();
        Thread.sleep(pauseMillis); // a slow sender is the point of this client
      }
      if (cutAt >= 0) {
        s.setSoLinger(true, 0); // an abrupt reset, not an orderly close
        return new Answer(-1, "", "");
      }
      return read(s.getInputStream());
    }
  }

  /** Sends {@code request}, reads {@code bytes} of the answer, then resets the connection. */
  static void hangUpAfter(int port, byte[] request, int bytes, int timeout) throws IOException {
    try (Socket s = connect(port, timeout)) {
      s.getOutputStream().write(request);
      s.getOutputStream().flush();
      InputStream in = s.getInputStream();
      for (int i = 0; i < bytes && in.read() >= 0; i++) {
        // read a little of the answer before going away
      }
      s.setSoLinger(true, 0);
    }
  }

  private static Socket connect(int port, int timeoutMillis) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), timeoutMillis);
    s.setSoTimeout(timeoutMillis);
    return s;
  }

  private static Answer read(InputStream in) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    try {
      for (int n; (n = in.read(buf)) >= 0; ) {
        all.write(buf, 0, n);
      }
    } catch (SocketTimeoutException e) {
      throw new IOException("no complete answer within the timeout: " + all, e);
    } catch (IOException e) {
      // a reset after the answer: keep what came
    }
    String text = all.toString(StandardCharsets.UTF_8);
    int split = text.indexOf("\r\n\r\n");
    String head = split < 0 ? text : text.substring(0, split);
    String body = split < 0 ? "" : text.substring(split + 4);
    if (!head.startsWith("HTTP/1.1 ") || head.length() < 12) {
      return new Answer(-1, head, body);
    }
    return new Answer(Integer.parseInt(head.substring(9, 12)), head, body);
  }
}
