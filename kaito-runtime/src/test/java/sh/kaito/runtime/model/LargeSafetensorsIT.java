package sh.kaito.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A 1 GiB fp32 safetensors file loads in a JVM whose heap is capped at 256 MB. */
class LargeSafetensorsIT {

  @TempDir Path dir;

  @Test
  void oneGigabyteLoadsMappedUnder256MbOfHeap() throws Exception {
    Map<String, SafetensorsFixtures.Entry> tensors = new LinkedHashMap<>();
    Map<Long, Float> values = new LinkedHashMap<>();
    long perTensor = 256L * 1024 * 1024; // 4 x 256 MiB = 1 GiB
    for (int i = 0; i < 4; i++) {
      tensors.put(
          "w" + i, new SafetensorsFixtures.Entry("F32", new long[] {16384, 4096}, perTensor));
      values.put(i * perTensor, 1.5f + i); // first element
      values.put((i + 1) * perTensor - 4, 2f); // last element
    }
    Path file = dir.resolve("model.safetensors");
    SafetensorsFixtures.write(file, tensors, values);
    assertThat(Files.size(file)).isGreaterThan(1L << 30);

    List<String> command = new ArrayList<>();
    command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx256m"); // the heap the mapped load must fit in
    command.add("-Dai.djl.offline=true");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(MappedLoadProbe.class.getName());
    command.add(dir.toString());
    Path log = dir.resolve("probe.log");
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("probe finished").isTrue();
    String out = Files.readString(log);
    assertThat(p.exitValue()).as(out).isZero();
    for (int i = 0; i < 4; i++) {
      assertThat(out)
          .contains(String.format("tensor=w%d shape=(16384, 4096) sum=%.1f", i, 3.5f + i));
    }
    long peak = Long.parseLong(out.replaceAll("(?s).*peakHeapBytes=(\\d+).*", "$1"));
    System.out.println("1 GiB mapped load: peak heap " + peak / (1024 * 1024) + " MiB");
    assertThat(peak).isLessThan(256L * 1024 * 1024);
  }
}
