package sh.kaito.runtime.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes safetensors files for tests, without Python. */
final class SafetensorsFixtures {

  private SafetensorsFixtures() {}

  /** A tensor's header entry; data comes from {@code fill} (absent bytes stay zero). */
  record Entry(String dtype, long[] shape, long bytes) {}

  /** Writes header + a data section of the summed sizes (sparse where not filled). */
  static void write(Path file, Map<String, Entry> tensors, Map<Long, Float> floatsAt)
      throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode header = json.createObjectNode();
    header.putObject("__metadata__").put("format", "pt");
    long offset = 0;
    for (var e : tensors.entrySet()) {
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", e.getValue().dtype());
      var shape = t.putArray("shape");
      for (long d : e.getValue().shape()) {
        shape.add(d);
      }
      t.putArray("data_offsets").add(offset).add(offset + e.getValue().bytes());
      offset += e.getValue().bytes();
    }
    byte[] h = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int padded = (h.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(h);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    head.flip();
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ch.write(head);
      long dataStart = 8 + padded;
      for (var f : floatsAt.entrySet()) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(f.getValue());
        b.flip();
        ch.write(b, dataStart + f.getKey());
      }
      if (ch.size() < dataStart + offset) {
        ByteBuffer last = ByteBuffer.allocate(1);
        ch.write(last, dataStart + offset - 1);
      }
    }
  }

  static Map<String, Entry> one(String name, String dtype, long[] shape, long bytes) {
    Map<String, Entry> m = new LinkedHashMap<>();
    m.put(name, new Entry(dtype, shape, bytes));
    return m;
  }
}
