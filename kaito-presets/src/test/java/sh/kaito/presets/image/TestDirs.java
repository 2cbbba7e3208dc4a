package sh.kaito.presets.image;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Model-like directories with random content, and byte-for-byte comparison. */
public final class TestDirs {
  private TestDirs() {}

  /** Two "shards" above the own-layer threshold, small files, and a nested file. */
  public static Path modelDir(Path dir, long seed, int shardBytes) throws IOException {
    Random random = new Random(seed);
    Files.createDirectories(dir.resolve("tokenizer"));
    Files.writeString(
        dir.resolve("config.json"), "{\"num_hidden_layers\": 2, \"seed\": " + seed + "}");
    Files.write(dir.resolve("tokenizer/tokenizer.json"), bytes(random, 40_000));
    Files.write(dir.resolve("model-00001-of-00002.safetensors"), bytes(random, shardBytes));
    Files.write(dir.resolve("model-00002-of-00002.safetensors"), bytes(random, shardBytes));
    return dir;
  }

  public static Path adapterDir(Path dir, long seed) throws IOException {
    Random random = new Random(seed);
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("adapter_config.json"),
        "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 8, \"seed\": " + seed + "}");
    Files.write(dir.resolve("adapter_model.safetensors"), bytes(random, 300_000));
    return dir;
  }

  public static byte[] bytes(Random random, int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  /** Relative path → content of every regular file under {@code dir}. */
  public static Map<String, byte[]> contents(Path dir) throws IOException {
    Map<String, byte[]> map = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.filter(Files::isRegularFile).toList()) {
        map.put(dir.relativize(p).toString(), Files.readAllBytes(p));
      }
    }
    return map;
  }

  public static void assertSameFiles(Path actual, Path expected) throws IOException {
    Map<String, byte[]> a = contents(actual);
    Map<String, byte[]> e = contents(expected);
    assertThat(a.keySet()).containsExactlyElementsOf(e.keySet());
    for (String name : e.keySet()) {
      assertThat(a.get(name)).as(name).isEqualTo(e.get(name));
    }
  }
}
