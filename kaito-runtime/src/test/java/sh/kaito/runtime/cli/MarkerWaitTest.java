package sh.kaito.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class MarkerWaitTest {

  @TempDir Path tmp;

  @Test
  @Timeout(30)
  void returnsOnlyOnceTheMarkerExistsAndLogsWhileWaiting() throws Exception {
    Path marker = tmp.resolve("fine_tuning_completed.txt");
    List<String> log = new CopyOnWriteArrayList<>();
    // The marker appears only once the waiter has logged twice that it is still waiting (an
    // observed event, not a time), so the assertions below hold on any machine.
    Thread writer =
        new Thread(
            () -> {
              try {
                while (log.stream().filter(l -> l.startsWith("push-adapter still waiting")).count()
                    < 2) {
                  Thread.sleep(10);
                }
                Files.writeString(marker, "done");
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    writer.start();

    Duration waited =
        new MarkerWait(Duration.ofMillis(20), Duration.ofMillis(150), log::add).await(marker);

    assertThat(marker).exists();
    // Two "still waiting" lines, one per 150 ms, came before the marker existed.
    assertThat(waited).isGreaterThanOrEqualTo(Duration.ofMillis(300));
    assertThat(log.get(0)).isEqualTo("push-adapter waiting for marker=" + marker);
    assertThat(log)
        .filteredOn(l -> l.startsWith("push-adapter still waiting"))
        .hasSizeGreaterThan(1);
    assertThat(log.get(log.size() - 1)).startsWith("push-adapter marker=" + marker + " present");
    writer.join();
  }

  @Test
  @Timeout(30)
  void theTunersFailureMarkerEndsTheWaitWithItsMessage() throws Exception {
    Path marker = tmp.resolve(TuneCommand.MARKER);
    List<String> log = new CopyOnWriteArrayList<>();
    Thread writer =
        new Thread(
            () -> {
              try {
                while (log.isEmpty()) {
                  Thread.sleep(10);
                }
                Files.writeString(
                    tmp.resolve(TuneCommand.FAILED_MARKER),
                    "train.parquet row 3: messages[0] has the unknown role 'oracle'\n");
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    writer.start();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                new MarkerWait(Duration.ofMillis(20), Duration.ofHours(1), log::add).await(marker))
        .isInstanceOf(CommandFailure.class)
        .hasMessage(
            "tuning failed, no adapter pushed: train.parquet row 3: messages[0] has the unknown"
                + " role 'oracle'");
    assertThat(marker).doesNotExist();
    writer.join();
  }

  @Test
  void aMarkerAlreadyThereNeedsNoWait() throws Exception {
    Path marker = Files.writeString(tmp.resolve("m"), "");
    List<String> log = new CopyOnWriteArrayList<>();

    assertThat(new MarkerWait(Duration.ofHours(1), Duration.ofHours(1), log::add).await(marker))
        .isZero();
    assertThat(log).containsExactly("push-adapter marker=" + marker + " present waited=0s");
  }
}
