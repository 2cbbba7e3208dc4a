package sh.kaito.runtime.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.regex.Pattern;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The runtime's HTTP server: upstream Kaito's {@code /health} and {@code /chat}, the OpenAI API
 * ({@link OpenAiApi}) and Prometheus {@code /metrics}, over one model that may still be loading.
 *
 * <p>Errors map here, by path: {@code /v1/*} answers OpenAI's {@code {"error": {"message", "type",
 * "param", "code"}}}, everything else upstream's {@code {"detail": message}}. Bad input is 4xx with
 * a message naming the field; 503 while the model loads; 429 when the generation queue is full; a
 * failure inside generation is 500 with a generic message and one log line with the stack trace,
 * and the server keeps serving.
 */
public final class ChatServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ChatServer.class);

  static final ObjectMapper JSON =
      JsonMapper.builder()
          .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

  static final String GENERATION_FAILED =
      "The server failed while generating; the error is in the server log. Retry, or report it if"
          + " it persists.";

  private static final Pattern SOURCE = Pattern.compile("\\[Source: [^;]*; ");
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final Set<String> ENDPOINTS =
      Set.of(
          "/",
          "/health",
          "/chat",
          "/metrics",
          "/v1/models",
          "/v1/chat/completions",
          "/v1/completions");
  private static final String STARTED = "kaito.started";

  /** A non-streaming request's connection is probed for a disconnect after this long. */
  static final long PROBE_AFTER_NANOS = 500_000_000L;

  /** Thrown by a handler that has already written its (streamed) response. */
  static final class ResponseAlreadySent extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ResponseAlreadySent() {
      super(null, null, false, false);
    }
  }

  private final CompletableFuture<ServedModel> model;
  private final ServerConfig config;
  private final PrometheusMeterRegistry registry;
  private final ServerMetrics metrics;
  private final GenerationQueue queue;
  private final long startedAt = System.currentTimeMillis() / 1000;
  private final Javalin app;
  private final AtomicBoolean closed = new AtomicBoolean();

  private ChatServer(
      CompletableFuture<ServedModel> model, ServerConfig config, PrometheusMeterRegistry registry) {
    this.model = model;
    this.config = config;
    this.registry = registry;
    this.metrics = new ServerMetrics(registry);
    this.queue = new GenerationQueue(config, metrics);
    model.thenAccept(m -> metrics.scheduler(m.name(), m.contextLength(), queue));
    this.app = Javalin.create(this::configure);
  }

  /**
   * An unstarted server for {@code model}, which may complete later: until it does, {@code /health}
   * and the generation endpoints answer 503.
   */
  public static ChatServer create(
      CompletableFuture<ServedModel> model, ServerConfig config, PrometheusMeterRegistry registry) {
    return new ChatServer(model, config, registry);
  }

  public ChatServer start() {
    app.start(config.host(), config.port());
    LOG.info(
        "server listening host={} port={} queue={}", config.host(), port(), config.queueCapacity());
    return this;
  }

  public int port() {
    return app.port();
  }

  /**
   * Shuts down: new generation requests get 503 while the accepted ones finish (up to the drain
   * grace period), then the step thread ends and the server stops listening; idempotent. After it
   * returns no step runs, so the model may be closed.
   */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      queue.close();
      app.stop();
    }
  }

  private void configure(io.javalin.config.JavalinConfig cfg) {
    cfg.startup.showJavalinBanner = false;
    cfg.http.maxRequestSize = config.maxRequestBytes();
    cfg.http.compressionStrategy = CompressionStrategy.NONE; // SSE events must not be buffered
    cfg.http.prefer405over404 = true;
    OpenAiApi openAi = new OpenAiApi(this);
    KaitoChatApi kaito = new KaitoChatApi(this);
    var routes = cfg.routes;
    routes.before(ctx -> ctx.attribute(STARTED, System.nanoTime()));
    routes.get("/", ctx -> json(ctx, 200, Map.of("message", "Server is running")));
    routes.get("/health", this::health);
    routes.get("/metrics", this::prometheus);
    routes.post("/chat", kaito::chat);
    routes.get("/v1/models", openAi::models);
    routes.post("/v1/chat/completions", openAi::chatCompletions);
    routes.post("/v1/completions", openAi::completions);
    routes.exception(ApiException.class, (e, ctx) -> error(ctx, e));
    routes.exception(
        HttpResponseException.class,
        (e, ctx) ->
            error(
                ctx,
                new ApiException(
                    e.getStatus(),
                    e.getStatus() == 404 ? "not_found_error" : "invalid_request_error",
                    describe(e, ctx),
                    null,
                    null)));
    routes.exception(ResponseAlreadySent.class, (e, ctx) -> {});
    routes.exception(
        GenerationQueue.ClientGoneException.class,
        (e, ctx) -> LOG.info("client disconnected path={} id={}", ctx.path(), requestId(ctx)));
    routes.exception(
        GenerationQueue.TimedOutException.class,
        (e, ctx) -> error(ctx, new ApiException(504, "timeout", e.getMessage(), null, null)));
    routes.exception(
        GenerationQueue.GenerationFailedException.class,
        (e, ctx) -> {
          logGenerationFailure(e);
          error(ctx, new ApiException(500, "server_error", GENERATION_FAILED, null, null));
        });
    routes.exception(
        Exception.class,
        (e, ctx) -> {
          LOG.error("request failed path={} id={}", ctx.path(), requestId(ctx), e);
          error(
              ctx,
              new ApiException(
                  500,
                  "server_error",
                  "The server failed on this request; the error is in the server log.",
                  null,
                  null));
        });
    routes.after(this::record);
  }

  private static String describe(HttpResponseException e, Context ctx) {
    return switch (e.getStatus()) {
      case 404 -> "no endpoint " + ctx.method() + " " + ctx.path();
      case 405 -> "method " + ctx.method() + " is not allowed on " + ctx.path();
      case 413 -> "the request body is larger than the server accepts";
      default -> e.getMessage();
    };
  }

  private void health(Context ctx) {
    if (model.isCompletedExceptionally()) {
      json(ctx, 500, Map.of("detail", "Model failed to load"));
    } else if (!model.isDone()) {
      json(ctx, 503, Map.of("detail", "Model not initialized"));
    } else if (queue.draining()) {
      json(ctx, 503, Map.of("detail", "Shutting down")); // readiness fails while requests drain
    } else {
      json(ctx, 200, Map.of("status", "Healthy"));
    }
  }

  private void prometheus(Context ctx) {
    ctx.contentType("text/plain; version=0.0.4; charset=utf-8");
    ctx.result(registry.scrape());
  }

  private void record(Context ctx) {
    Long started = ctx.attribute(STARTED);
    long nanos = started == null ? 0 : System.nanoTime() - started;
    String endpoint = ENDPOINTS.contains(ctx.path()) ? ctx.path() : "other";
    metrics.request(endpoint, ctx.statusCode(), nanos);
    if (ctx.method().name().equals("POST")) {
      LOG.info(
          "request endpoint={} status={} id={} seconds={}",
          endpoint,
          ctx.statusCode(),
          requestId(ctx),
          String.format("%.3f", nanos / 1e9));
    }
  }

  // ---- for the handlers ----

  /** The loaded model, or a 503 while it loads (500 if loading failed). */
  ServedModel model() {
    ServedModel m = model.getNow(null);
    if (m != null) {
      return m;
    }
    if (model.isCompletedExceptionally()) {
      throw new ApiException(500, "server_error", "Model failed to load", null, null);
    }
    throw new ApiException(503, "service_unavailable", "Model not initialized", null, null);
  }

  GenerationQueue queue() {
    return queue;
  }

  /**
   * Whether the client of {@code ctx} has closed its connection; polled while a request waits for
   * its generation, so that its sequences leave the batch. Jetty does not read a connection while
   * its request is handled, so it would not notice; once a non-streaming request has waited {@link
   * #PROBE_AFTER_NANOS}, the probe asks to be told when the connection becomes readable and reads
   * one byte: end of stream means the client is gone. The response then carries {@code Connection:
   * close}, so Jetty never reads that connection for a next request while the probe's read interest
   * is pending. A streaming response is probed by its writes instead.
   */
  BooleanSupplier clientGone(Context ctx) {
    EndPoint endPoint;
    try {
      endPoint =
          ServletContextRequest.getServletContextRequest(ctx.req())
              .getConnectionMetaData()
              .getConnection()
              .getEndPoint();
    } catch (RuntimeException e) {
      return () -> false; // not a Jetty request (cannot happen under Javalin): no probe
    }
    long armAt = System.nanoTime() + PROBE_AFTER_NANOS;
    AtomicBoolean readable = new AtomicBoolean();
    Callback onReadable = Callback.from(() -> readable.set(true), failure -> readable.set(true));
    return new BooleanSupplier() {
      private boolean armed;
      private boolean off;

      @Override
      public boolean getAsBoolean() {
        if (!endPoint.isOpen()) {
          return true;
        }
        if (off || ctx.res().isCommitted()) {
          return false;
        }
        if (!armed) {
          if (System.nanoTime() - armAt < 0) {
            return false;
          }
          ctx.header("Connection", "close");
          armed = true;
          off = !endPoint.tryFillInterested(onReadable);
          LOG.info(
              "DEBUG probe armed off={} interested={} ep={}",
              off,
              endPoint.isFillInterested(),
              endPoint);
          return false;
        }
        if (!readable.getAndSet(false)) {
          return false;
        }
        try {
          ByteBuffer one = BufferUtil.allocate(1);
          int read = endPoint.fill(one);
          if (read < 0) {
            return true;
          }
          if (read == 0) {
            off = !endPoint.tryFillInterested(onReadable);
          } else {
            off = true; // the client sent more (pipelining): stop probing
          }
          return false;
        } catch (IOException e) {
          return true;
        }
      }
    };
  }

  long startedAt() {
    return startedAt;
  }

  /** The request body as JSON; malformed, empty or oversized bodies are 4xx. */
  JsonNode readJson(Context ctx) {
    byte[] body;
    try {
      body = ctx.bodyAsBytes();
    } catch (HttpResponseException e) {
      throw e; // 413
    } catch (Exception e) {
      if (!(e instanceof java.io.IOException || e.getCause() instanceof java.io.IOException)) {
        throw e;
      }
      // Jetty's early EOF: the client sent less than it declared, or broke its chunked framing.
      throw ApiException.badRequest(
          "the request body could not be read: it ended before its declared length or its"
              + " chunked encoding is malformed",
          null);
    }
    if (body.length == 0) {
      throw ApiException.badRequest("the request body is empty; send a JSON object", null);
    }
    try {
      return JSON.readTree(body);
    } catch (JsonProcessingException e) {
      var at = e.getLocation();
      String problem = e.getOriginalMessage();
      if (problem.startsWith("Trailing token")) {
        problem = "more data follows the JSON value";
      }
      throw ApiException.badRequest(
          "the request body is not valid JSON: "
              + SOURCE.matcher(problem).replaceAll("[")
              + (at == null
                  ? ""
                  : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"),
          null);
    } catch (java.io.IOException e) {
      throw ApiException.badRequest("the request body could not be read: " + e.getMessage(), null);
    }
  }

  /** The client's {@code x-request-id} if it is a plain token, else a fresh random id. */
  String requestId(Context ctx) {
    String id = ctx.attribute("kaito.id");
    if (id == null) {
      String header = ctx.header("x-request-id");
      id =
          header != null && REQUEST_ID.matcher(header).matches()
              ? header
              : UUID.randomUUID().toString().replace("-", "");
      ctx.attribute("kaito.id", id);
    }
    return id;
  }

  void json(Context ctx, int status, Object body) {
    try {
      ctx.status(status);
      ctx.contentType("application/json");
      ctx.result(JSON.writeValueAsBytes(body));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize " + body.getClass(), e);
    }
  }

  void logGenerationFailure(Exception e) {
    LOG.error("generation failed error={}", e.getCause(), e.getCause());
  }

  private void error(Context ctx, ApiException e) {
    if (e.status() < 500) {
      LOG.info(
          "request refused path={} status={} id={} message={}",
          ctx.path(),
          e.status(),
          requestId(ctx),
          e.getMessage());
    }
    if (e.status() == 429 || e.status() == 503) {
      ctx.header("Retry-After", Long.toString(metrics.retryAfterSeconds()));
    }
    if (ctx.path().startsWith("/v1/")) {
      json(ctx, e.status(), openAiError(e));
    } else {
      json(ctx, e.status(), Map.of("detail", e.getMessage()));
    }
  }

  /** OpenAI's error body: {@code {"error": {"message", "type", "param", "code"}}}. */
  static Map<String, Object> openAiError(ApiException e) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("message", e.getMessage());
    error.put("type", e.type());
    error.put("param", e.param());
    error.put("code", e.code());
    return Map.of("error", error);
  }

  static Map<String, Object> openAiError(String message) {
    return openAiError(new ApiException(500, "server_error", message, null, null));
  }
}
