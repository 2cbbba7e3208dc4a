package sh.kaito.runtime.server;

import ai.djl.Device;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import sh.kaito.runtime.generate.SamplingParams;
import sh.kaito.runtime.lora.Adapters;

/** The tiny random model of {@link TinyModels}, served as "tiny" (adapter "alpha"), for the ITs. */
final class TestServers {

  static final int CONTEXT = 96;
  static final Set<Long> EOS = Set.of(TinyModels.EOS, TinyModels.END);

  private TestServers() {}

  static ServedModel tinyModel(Path dir) throws IOException {
    Path weights = TinyModels.model(dir.resolve("tiny"), CONTEXT, 7);
    Path alpha = TinyModels.adapter(dir.resolve("adapters/alpha"), 11);
    return ServedModel.load(
        new ModelSpec(weights, "tiny", List.of(new ModelSpec.AdapterSpec("alpha", alpha, 1f))),
        Device.cpu());
  }

  static ChatServer start(ServedModel model, int queue) {
    return ChatServer.create(
            CompletableFuture.completedFuture(model),
            ServerConfig.of("127.0.0.1", 0).withQueueCapacity(queue),
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
        .start();
  }

  /** The engine called directly, greedy, decoded as the server decodes. */
  static String greedy(ServedModel model, long[] prompt, int maxNew) {
    long[] tokens =
        model
            .engine()
            .generate(prompt, SamplingParams.greedy(maxNew, EOS), Adapters.NONE, t -> {})
            .tokens();
    return model.tokenizer().decode(tokens, true);
  }
}
