package sh.kaito.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@code *.safetensors} file, read through memory maps.
 *
 * <p>Only the JSON header is read onto the heap. Each tensor is mapped on its own (a single map is
 * limited to 2 GiB) when it is loaded, and F32 tensors are handed to libtorch without a copy. DJL's
 * own reader is not used: it reads the whole file into the heap, fails past 2 GiB and aborts the
 * JVM on BF16. BF16 is widened to F32 here in Java, because libtorch under DJL cannot hold it.
 */
public final class SafetensorsFile {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  /** Where one tensor lies in the file. */
  public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {
    long elements() {
      long n = 1;
      for (long d : shape) {
        n = Math.multiplyExact(n, d);
      }
      return n;
    }
  }

  private final Path path;
  private final long dataStart;
  private final Map<String, TensorInfo> tensors;
  private final Map<String, String> metadata;

  private SafetensorsFile(
      Path path, long dataStart, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
    this.path = path;
    this.dataStart = dataStart;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Reads and validates the header of {@code path}; maps nothing yet. */
  public static SafetensorsFile open(Path path) throws IOException {
    if (!Files.isRegularFile(path)) {
      throw new ModelFormatException("safetensors file not found: " + path);
    }
    long fileSize = Files.size(path);
    if (fileSize < 8) {
      throw new ModelFormatException(
          path + ": too short for a safetensors file (" + fileSize + " bytes)");
    }
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, len, 0);
      long headerLen = len.flip().getLong();
      if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > fileSize) {
        throw new ModelFormatException(
            path
                + ": corrupt safetensors header length "
                + headerLen
                + " (file has "
                + fileSize
                + " bytes)");
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      readFully(ch, header, 8);
      JsonNode root;
      try {
        root = JSON.readTree(new String(header.array(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new ModelFormatException(path + ": safetensors header is not valid JSON", e);
      }
      if (root == null || !root.isObject()) {
        throw new ModelFormatException(path + ": safetensors header is not a JSON object");
      }
      long dataStart = 8 + headerLen;
      long dataSize = fileSize - dataStart;
      Map<String, TensorInfo> tensors = new LinkedHashMap<>();
      Map<String, String> metadata = new LinkedHashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().equals("__metadata__")) {
          e.getValue()
              .fields()
              .forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
          continue;
        }
        tensors.put(e.getKey(), parseTensor(path, e.getKey(), e.getValue(), dataSize));
      }
      return new SafetensorsFile(
          path,
          dataStart,
          Collections.unmodifiableMap(tensors),
          Collections.unmodifiableMap(metadata));
    }
  }

  private static TensorInfo parseTensor(Path path, String name, JsonNode t, long dataSize)
      throws ModelFormatException {
    JsonNode dtype = t.get("dtype");
    JsonNode shape = t.get("shape");
    JsonNode offsets = t.get("data_offsets");
    if (dtype == null
        || shape == null
        || !shape.isArray()
        || offsets == null
        || offsets.size() != 2) {
      throw new ModelFormatException(path + ": tensor '" + name + "' has a malformed header entry");
    }
    long[] dims = new long[shape.size()];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = shape.get(i).asLong(-1);
      if (dims[i] < 0) {
        throw new ModelFormatException(path + ": tensor '" + name + "' has a negative dimension");
      }
    }
    TensorInfo info =
        new TensorInfo(
            name, dtype.asText(), dims, offsets.get(0).asLong(), offsets.get(1).asLong());
    if (info.begin() < 0 || info.end() < info.begin() || info.end() > dataSize) {
      throw new ModelFormatException(
          path
              + ": tensor '"
              + name
              + "' lies outside the file (offsets "
              + info.begin()
              + ".."
              + info.end()
              + ", data section "
              + dataSize
              + " bytes); the file is truncated or corrupt");
    }
    int width = bytesPerElement(path, info);
    if (info.elements() * width != info.end() - info.begin()) {
      throw new ModelFormatException(
          path
              + ": tensor '"
              + name
              + "' has "
              + (info.end() - info.begin())
              + " bytes but its shape "
              + java.util.Arrays.toString(dims)
              + " and dtype "
              + info.dtype()
              + " need "
              + info.elements() * width);
    }
    return info;
  }

  private static int bytesPerElement(Path path, TensorInfo info) throws ModelFormatException {
    return switch (info.dtype()) {
      case "F64", "I64" -> 8;
      case "F32", "I32" -> 4;
      case "F16", "BF16" -> 2;
      case "I8", "U8", "BOOL" -> 1;
      default ->
          throw new ModelFormatException(
              path
                  + ": tensor '"
                  + info.name()
                  + "' has unsupported dtype "
                  + info.dtype()
                  + " (supported: F32, F16, BF16, F64, I64, I32, I8, U8, BOOL)");
    };
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new ModelFormatException("unexpected end of file");
      }
      pos += n;
    }
  }

  public Path path() {
    return path;
  }

  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * Loads one tensor into {@code manager}. Floating-point tensors come back as {@code floatType}
   * (FLOAT32, or FLOAT16 for a GPU); an F32 file tensor requested as FLOAT32 is not copied: the
   * NDArray reads the read-only map directly, so callers must never modify it in place.
   */
  public NDArray load(String name, NDManager manager, DataType floatType) throws IOException {
    TensorInfo info = tensors.get(name);
    if (info == null) {
      throw new ModelFormatException(path + ": no tensor named '" + name + "'");
    }
    if (info.elements() > Integer.MAX_VALUE) {
      throw new ModelFormatException(
          path
              + ": tensor '"
              + name
              + "' has "
              + info.elements()
              + " elements; more than 2^31 per tensor is not supported");
    }
    Shape shape = new Shape(info.shape());
    long length = info.end() - info.begin();
    MappedByteBuffer mapped;
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      mapped = ch.map(FileChannel.MapMode.READ_ONLY, dataStart + info.begin(), length);
    }
    mapped.order(ByteOrder.LITTLE_ENDIAN);
    NDArray array =
        switch (info.dtype()) {
          case "F32" -> manager.create(mapped, shape, DataType.FLOAT32);
          case "F16" -> manager.create(mapped, shape, DataType.FLOAT16);
          case "BF16" ->
              manager.create(widenBf16(mapped, (int) info.elements()), shape, DataType.FLOAT32);
          case "F64" -> manager.create(mapped, shape, DataType.FLOAT64);
          case "I64" -> manager.create(mapped, shape, DataType.INT64);
          case "I32" -> manager.create(mapped, shape, DataType.INT32);
          case "I8" -> manager.create(mapped, shape, DataType.INT8);
          case "U8" -> manager.create(mapped, shape, DataType.UINT8);
          case "BOOL" -> manager.create(mapped, shape, DataType.BOOLEAN);
          default -> throw new ModelFormatException("unsupported dtype " + info.dtype());
        };
    if (array.getDataType().isFloating() && array.getDataType() != floatType) {
      NDArray converted = array.toType(floatType, false);
      array.close();
      array = converted;
    }
    return array;
  }

  /** Bytes read per call by {@link #readFloats}: the heap never holds a tensor's raw bytes. */
  private static final int READ_CHUNK = 1 << 20;

  /** Receives a tensor's values in order, a chunk at a time. */
  public interface FloatChunks {
    /** The next {@code count} values are {@code chunk[0 .. count)}; the array is reused. */
    void accept(float[] chunk, int count);
  }

  /**
   * Reads a floating-point tensor (F32, BF16 or F16) as float32 values, in chunks of at most
   * {@value #READ_CHUNK} bytes with ordinary reads instead of a memory map: the file's pages are
   * never part of this process's resident memory, and the heap holds one chunk. The way to stream
   * weights that are converted on load (4-bit quantization).
   *
   * @return the number of values
   */
  public int readFloats(String name, FloatChunks into) throws IOException {
    TensorInfo info = tensors.get(name);
    if (info == null) {
      throw new ModelFormatException(path + ": no tensor named '" + name + "'");
    }
    int width =
        switch (info.dtype()) {
          case "F32" -> 4;
          case "BF16", "F16" -> 2;
          default ->
              throw new ModelFormatException(
                  path + ": tensor '" + name + "' is " + info.dtype() + ", not a float tensor");
        };
    if (info.elements() > Integer.MAX_VALUE) {
      throw new ModelFormatException(
          path + ": tensor '" + name + "' has more than 2^31 elements, not supported");
    }
    int numel = (int) info.elements();
    ByteBuffer chunk = ByteBuffer.allocate(READ_CHUNK).order(ByteOrder.LITTLE_ENDIAN);
    float[] values = new float[READ_CHUNK / width];
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long position = dataStart + info.begin();
      int done = 0;
      while (done < numel) {
        chunk.clear();
        chunk.limit(Math.min(READ_CHUNK, (numel - done) * width));
        readFully(ch, chunk, position);
        position += chunk.limit();
        chunk.flip();
        int count = chunk.remaining() / width;
        for (int i = 0; i < count; i++) {
          values[i] =
              switch (width) {
                case 4 -> chunk.getFloat();
                default ->
                    info.dtype().equals("BF16")
                        ? Float.intBitsToFloat((chunk.getShort() & 0xFFFF) << 16)
                        : halfToFloat(chunk.getShort());
              };
        }
        into.accept(values, count);
        done += count;
      }
    }
    return numel;
  }

  /** IEEE binary16 to float32 (exact). */
  static float halfToFloat(short h) {
    int bits = h & 0xFFFF;
    int sign = (bits & 0x8000) << 16;
    int exponent = (bits >>> 10) & 0x1F;
    int mantissa = bits & 0x3FF;
    if (exponent == 0x1F) {
      return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      float magnitude = mantissa * 0x1p-24f; // subnormal (or zero): exact in float32
      return sign == 0 ? magnitude : -magnitude;
    }
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }

  private static ByteBuffer widenBf16(ByteBuffer src, int elements) {
    ShortBuffer in = src.asShortBuffer();
    ByteBuffer out =
        ByteBuffer.allocateDirect(Math.multiplyExact(elements, 4)).order(ByteOrder.nativeOrder());
    FloatBuffer f = out.asFloatBuffer();
    for (int i = 0; i < elements; i++) {
      f.put(i, Float.intBitsToFloat((in.get(i) & 0xFFFF) << 16));
    }
    return out;
  }
}
