package sh.kaito.runtime.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import sh.kaito.runtime.generate.FinishReason;

/** vLLM's metric names, types, labels and buckets in the Prometheus text the server serves. */
class ServerMetricsTest {

  final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  final ServerMetrics metrics = new ServerMetrics(registry);

  /** The {@code le} bounds of one histogram's buckets, +Inf left out. */
  static List<Double> buckets(String scrape, String histogram) {
    Matcher m =
        Pattern.compile(Pattern.quote(histogram) + "_bucket\\{[^}]*le=\"([^\"]+)\"")
            .matcher(scrape);
    List<Double> out = new ArrayList<>();
    while (m.find()) {
      if (!m.group(1).equals("+Inf")) {
        out.add(Double.parseDouble(m.group(1)));
      }
    }
    return out;
  }

  /** The value of the one sample line that starts with {@code series}. */
  static double value(String scrape, String series) {
    for (String line : scrape.split("\n")) {
      if (line.startsWith(series + " ")) {
        return Double.parseDouble(line.substring(series.length() + 1));
      }
    }
    throw new AssertionError("no sample " + series + " in:\n" + scrape);
  }

  static List<Double> list(double... values) {
    List<Double> out = new ArrayList<>();
    for (double v : values) {
      out.add(v);
    }
    return out;
  }

  @Test
  void histogramsHaveVllmsNamesAndBuckets() {
    metrics.scheduler("tiny", 96, idle());
    // One sequence of 7 prompt tokens, 4 generated: a first token and three gaps.
    metrics.admitted("tiny", 1, 2_000_000);
    metrics.firstToken("tiny", 30_000_000);
    for (int i = 0; i < 3; i++) {
      metrics.nextToken("tiny", 20_000_000);
    }
    metrics.finished("tiny", 7, 4, FinishReason.LENGTH, 95_000_000);
    String scrape = registry.scrape();

    // vLLM v1's PrometheusStatLogger (vllm/v1/metrics/loggers.py), bucket for bucket.
    assertThat(buckets(scrape, "vllm:time_to_first_token_seconds"))
        .containsExactlyElementsOf(
            list(
                0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0));
    List<Double> tokenLatency =
        list(
            0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
            20.0, 40.0, 80.0);
    assertThat(buckets(scrape, "vllm:inter_token_latency_seconds"))
        .containsExactlyElementsOf(tokenLatency);
    assertThat(buckets(scrape, "vllm:time_per_output_token_seconds"))
        .containsExactlyElementsOf(tokenLatency);
    List<Double> requestLatency =
        list(
            0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
            240.0, 480.0, 960.0, 1920.0, 7680.0);
    for (String h :
        List.of("vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds")) {
      assertThat(buckets(scrape, h)).as(h).containsExactlyElementsOf(requestLatency);
    }
    // build_1_2_5_buckets(max_model_len = 96)
    assertThat(buckets(scrape, "vllm:request_prompt_tokens"))
        .containsExactlyElementsOf(list(1, 2, 5, 10, 20, 50));

    String labels = "{engine=\"0\",model_name=\"tiny\"}";
    assertThat(scrape)
        .contains("# TYPE vllm:time_to_first_token_seconds histogram")
        .contains("# TYPE vllm:prompt_tokens_total counter");
    assertThat(value(scrape, "vllm:prompt_tokens_total" + labels)).isEqualTo(7.0);
    assertThat(value(scrape, "vllm:generation_tokens_total" + labels)).isEqualTo(4.0);
    assertThat(value(scrape, "vllm:time_to_first_token_seconds_count" + labels)).isEqualTo(1.0);
    // 4 tokens: 3 gaps between them, each an inter-token latency and a time per output token
    assertThat(value(scrape, "vllm:inter_token_latency_seconds_count" + labels)).isEqualTo(3.0);
    assertThat(value(scrape, "vllm:time_per_output_token_seconds_count" + labels)).isEqualTo(3.0);
    // 0.03 s TTFT lands in the le=0.04 bucket, not le=0.02 (exact: it is the value recorded)
    assertThat(
            value(
                scrape,
                "vllm:time_to_first_token_seconds_bucket{engine=\"0\",model_name=\"tiny\",le=\"0.02\"}"))
        .isEqualTo(0.0);
    assertThat(
            value(
                scrape,
                "vllm:time_to_first_token_seconds_bucket{engine=\"0\",model_name=\"tiny\",le=\"0.04\"}"))
        .isEqualTo(1.0);
    assertThat(value(scrape, "vllm:e2e_request_latency_seconds_count" + labels)).isEqualTo(1.0);
    // Sub-second values land in the finite buckets, not only in +Inf (a DistributionSummary's did)
    assertThat(
            value(
                scrape,
                "vllm:time_to_first_token_seconds_bucket{engine=\"0\",model_name=\"tiny\","
                    + "le=\"2560.0\"}"))
        .isEqualTo(1.0);
    assertThat(
            value(
                scrape,
                "vllm:inter_token_latency_seconds_bucket{engine=\"0\",model_name=\"tiny\","
                    + "le=\"80.0\"}"))
        .isEqualTo(3.0);
    assertThat(
            value(
                scrape,
                "vllm:request_success_total{engine=\"0\",finished_reason=\"length\","
                    + "model_name=\"tiny\"}"))
        .isEqualTo(1.0);
    // 7 prompt tokens fall in the le=10 bucket and above, not in le=5
    assertThat(
            value(
                scrape,
                "vllm:request_prompt_tokens_bucket{engine=\"0\",model_name=\"tiny\",le=\"5.0\"}"))
        .isEqualTo(0.0);
    assertThat(
            value(
                scrape,
                "vllm:request_prompt_tokens_bucket{engine=\"0\",model_name=\"tiny\",le=\"10.0\"}"))
        .isEqualTo(1.0);
  }

  @Test
  void requestsToAnAdapterAreLabelledWithTheServedModel() {
    metrics.scheduler("tiny", 96, idle());
    metrics.firstToken("alpha", 1_000_000);
    metrics.finished("alpha", 3, 1, FinishReason.STOP, 2_000_000);
    String scrape = registry.scrape();
    assertThat(value(scrape, "vllm:prompt_tokens_total{engine=\"0\",model_name=\"tiny\"}"))
        .isEqualTo(3.0);
    assertThat(scrape).doesNotContain("model_name=\"alpha\"");
    // ours keep the name the request used
    assertThat(scrape).contains("kaito_generation_tokens_total{kind=\"prompt\",model=\"alpha\"}");
  }

  static SchedulerState idle() {
    return new SchedulerState() {
      @Override
      public int runningRequests() {
        return 0;
      }

      @Override
      public int waitingRequests() {
        return 0;
      }

      @Override
      public double kvCacheUsage() {
        return 0;
      }
    };
  }

  @Test
  void schedulerGaugesReadTheScheduler() {
    metrics.scheduler(
        "tiny",
        96,
        new SchedulerState() {
          @Override
          public int runningRequests() {
            return 3;
          }

          @Override
          public int waitingRequests() {
            return 5;
          }

          @Override
          public double kvCacheUsage() {
            return 0.25;
          }
        });
    String scrape = registry.scrape();
    String labels = "{engine=\"0\",model_name=\"tiny\"}";
    assertThat(value(scrape, "vllm:num_requests_running" + labels)).isEqualTo(3.0);
    assertThat(value(scrape, "vllm:num_requests_waiting" + labels)).isEqualTo(5.0);
    assertThat(value(scrape, "vllm:kv_cache_usage_perc" + labels)).isEqualTo(0.25);
    assertThat(value(scrape, "vllm:gpu_cache_usage_perc" + labels)).isEqualTo(0.25);
    assertThat(scrape).contains("# TYPE vllm:num_requests_running gauge");
  }
}
