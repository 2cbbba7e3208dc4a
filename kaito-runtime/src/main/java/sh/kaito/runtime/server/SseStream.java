package sh.kaito.runtime.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;
import jakarta.servlet.ServletOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * An OpenAI-style server-sent event stream on a POST response: {@code data: <json>} events, each
 * flushed at once, ending with {@code data: [DONE]}. The status and headers go out with the first
 * event, so a request refused before that still gets its own status. A write to a client that went
 * away throws {@link UncheckedIOException}.
 */
final class SseStream {

  private final Context ctx;
  private final ObjectMapper json;
  private ServletOutputStream out;

  SseStream(Context ctx, ObjectMapper json) {
    this.ctx = ctx;
    this.json = json;
  }

  Context context() {
    return ctx;
  }

  boolean started() {
    return out != null;
  }

  void send(Object event) {
    try {
      write("data: " + json.writeValueAsString(event) + "\n\n");
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize event " + event, e);
    }
  }

  void done() {
    write("data: [DONE]\n\n");
  }

  private void write(String event) {
    try {
      if (out == null) {
        ctx.status(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        ctx.res().setHeader("X-Accel-Buffering", "no");
        out = ctx.res().getOutputStream();
      }
      out.write(event.getBytes(StandardCharsets.UTF_8));
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
