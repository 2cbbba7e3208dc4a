package sh.kaito.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

class ControllerLoopTest {
  private static final ControllerLoop.Options OPTIONS =
      new ControllerLoop.Options(
          "thing", 2, Duration.ofMillis(10), Duration.ofMillis(10), Duration.ofMillis(80));

  @Test
  void anErrorKillsItsWorkerAndLivenessSaysWhichWhileTheOtherWorkerGoesOn() throws Exception {
    CountDownLatch otherDone = new CountDownLatch(1);
    try (WorkQueue queue = new WorkQueue();
        ControllerLoop loop =
            new ControllerLoop(
                OPTIONS,
                queue,
                key -> {
                  if (key.equals("bad")) {
                    throw new StackOverflowError("deep");
                  }
                  otherDone.countDown();
                  return Optional.empty();
                },
                new SimpleMeterRegistry())) {
      loop.start();
      assertThat(loop.problems()).isEmpty();
      queue.add("bad");
      awaitTrue(() -> !loop.problems().isEmpty());
      assertThat(loop.problems())
          .singleElement()
          .asString()
          .startsWith("worker thing-worker-")
          .contains("died: java.lang.StackOverflowError: deep");
      queue.add("good");
      assertThat(otherDone.await(5, TimeUnit.SECONDS)).as("the surviving worker").isTrue();
    }
  }

  @Test
  void theTestHookThrowsAnErrorForItsKeyOnly() throws Exception {
    System.setProperty(ControllerLoop.ERROR_HOOK_PROPERTY, "ns/doomed");
    try (WorkQueue queue = new WorkQueue();
        ControllerLoop loop =
            new ControllerLoop(
                OPTIONS, queue, key -> Optional.empty(), new SimpleMeterRegistry())) {
      System.clearProperty(ControllerLoop.ERROR_HOOK_PROPERTY);
      loop.start();
      queue.add("ns/fine");
      queue.add("ns/doomed");
      awaitTrue(() -> !loop.problems().isEmpty());
      assertThat(loop.problems()).singleElement().asString().contains("test hook");
    } finally {
      System.clearProperty(ControllerLoop.ERROR_HOOK_PROPERTY);
    }
  }

  @Test
  void aConflictIsRetriedSoonAndIsNotAnError() throws Exception {
    SimpleMeterRegistry metrics = new SimpleMeterRegistry();
    failThenSucceed(1, new KubernetesClientException("conflict", 409, null), metrics);
    assertThat(metrics.counter("kaito.reconcile.conflicts", "controller", "thing").count())
        .isEqualTo(1.0);
    assertThat(metrics.counter("kaito.reconcile.errors", "controller", "thing").count()).isZero();
  }

  @Test
  void failuresBackOffPerKeyUntilASuccess() throws Exception {
    SimpleMeterRegistry metrics = new SimpleMeterRegistry();
    // Three failures: retried after 10, 20 and 40 ms, then it succeeds and is left alone.
    failThenSucceed(3, new IllegalStateException("hiccup"), metrics);
    assertThat(metrics.counter("kaito.reconcile.errors", "controller", "thing").count())
        .isEqualTo(3.0);
    ControllerLoop loop =
        new ControllerLoop(OPTIONS, new WorkQueue(), k -> Optional.empty(), metrics);
    assertThat(List.of(loop.backoff(1), loop.backoff(2), loop.backoff(3), loop.backoff(4)))
        .containsExactly(
            Duration.ofMillis(10),
            Duration.ofMillis(20),
            Duration.ofMillis(40),
            Duration.ofMillis(80));
    assertThat(loop.backoff(30)).as("capped").isEqualTo(Duration.ofMillis(80));
  }

  /** One key whose first {@code n} reconciles throw {@code e}: runs until it has succeeded. */
  private static void failThenSucceed(int n, RuntimeException e, SimpleMeterRegistry metrics)
      throws InterruptedException {
    Map<String, Integer> calls = new ConcurrentHashMap<>();
    ControllerLoop.Reconciler reconciler =
        key -> {
          if (calls.merge(key, 1, Integer::sum) <= n) {
            throw e;
          }
          return Optional.empty();
        };
    try (WorkQueue queue = new WorkQueue();
        ControllerLoop loop = new ControllerLoop(OPTIONS, queue, reconciler, metrics)) {
      loop.start();
      queue.add("k");
      awaitTrue(() -> calls.getOrDefault("k", 0) == n + 1);
      assertThat(loop.problems()).isEmpty();
    }
  }

  private static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within 5 s");
      }
      Thread.sleep(5);
    }
  }
}
