package sh.kaito.presets.gguf;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A GGUF file (versions 2 and 3, little-endian): its metadata key/values and tensor infos, read
 * once; tensor data is read on demand and dequantized to float32. Layout as ggml's {@code
 * docs/gguf.md}: magic {@code GGUF}, version, tensor count, KV count, the KVs, the tensor infos
 * (name, dims with the fastest-varying first, type, offset), padding to {@code general.alignment},
 * then the data.
 */
public final class GgufFile {

  private static final int MAGIC = 0x46554747; // "GGUF" little-endian
  private static final int DEFAULT_ALIGNMENT = 32;

  /** Bounds that only a corrupt file exceeds; they keep a bad count from allocating gigabytes. */
  private static final long MAX_COUNT = 1L << 24;

  private static final int MAX_DIMS = 4;

  /**
   * One tensor as the file describes it.
   *
   * @param dims GGUF order: {@code dims[0]} varies fastest (a PyTorch shape is these reversed)
   * @param offset from the start of the data section
   */
  public record TensorInfo(String name, long[] dims, GgmlType type, long offset) {
    public long elements() {
      long n = 1;
      for (long d : dims) {
        n *= d;
      }
      return n;
    }

    public long bytes() {
      return elements() / type.blockSize() * type.blockBytes();
    }

    /** The row-major (PyTorch/safetensors) shape: {@link #dims()} reversed. */
    public long[] shape() {
      long[] s = new long[dims.length];
      for (int i = 0; i < dims.length; i++) {
        s[i] = dims[dims.length - 1 - i];
      }
      return s;
    }
  }

  private final Path path;
  private final int version;
  private final Map<String, Object> metadata;
  private final Map<String, TensorInfo> tensors;
  private final long dataStart;

  private GgufFile(
      Path path,
      int version,
      Map<String, Object> metadata,
      Map<String, TensorInfo> tensors,
      long dataStart) {
    this.path = path;
    this.version = version;
    this.metadata = Collections.unmodifiableMap(metadata);
    this.tensors = Collections.unmodifiableMap(tensors);
    this.dataStart = dataStart;
  }

  /**
   * Reads the header, metadata and tensor infos, and checks that every tensor lies inside the file.
   *
   * @throws GgufException naming the file and the problem (not GGUF, truncated, inconsistent)
   */
  public static GgufFile open(Path path) throws IOException {
    long size;
    try {
      size = Files.size(path);
    } catch (NoSuchFileException e) {
      throw new GgufException("no such GGUF file: " + path);
    }
    try (InputStream raw = Files.newInputStream(path)) {
      Reader r = new Reader(new BufferedInputStream(raw, 1 << 16), path);
      int magic = r.i32();
      if (magic != MAGIC) {
        throw new GgufException(
            path + " is not a GGUF file (it starts with 0x" + Integer.toHexString(magic) + ")");
      }
      int version = r.i32();
      if (version != 2 && version != 3) {
        throw new GgufException(
            path + " is GGUF version " + version + "; this reader reads versions 2 and 3");
      }
      long tensorCount = r.count("tensor count");
      long kvCount = r.count("metadata count");
      Map<String, Object> metadata = new LinkedHashMap<>();
      for (long i = 0; i < kvCount; i++) {
        String key = r.string();
        metadata.put(key, r.value(r.i32(), key));
      }
      Map<String, TensorInfo> tensors = new LinkedHashMap<>();
      for (long i = 0; i < tensorCount; i++) {
        String name = r.string();
        int nDims = r.i32();
        if (nDims < 1 || nDims > MAX_DIMS) {
          throw new GgufException(path + ": tensor " + name + " has " + nDims + " dimensions");
        }
        long[] dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++) {
          dims[d] = r.i64();
          if (dims[d] < 1 || dims[d] > (1L << 40) || elements > Long.MAX_VALUE / dims[d]) {
            throw new GgufException(
                path + ": tensor " + name + " has a bad shape " + Arrays.toString(dims));
          }
          elements *= dims[d];
        }
        int typeId = r.i32();
        GgmlType type =
            GgmlType.byId(typeId)
                .orElseThrow(
                    () ->
                        new GgufException(
                            path + ": tensor " + name + " has unknown ggml type " + typeId));
        if (dims[0] % type.blockSize() != 0) {
          throw new GgufException(
              path
                  + ": tensor "
                  + name
                  + " has "
                  + dims[0]
                  + " columns, not a multiple of "
                  + type
                  + "'s block of "
                  + type.blockSize());
        }
        long offset = r.i64();
        if (tensors.put(name, new TensorInfo(name, dims, type, offset)) != null) {
          throw new GgufException(path + ": tensor " + name + " appears twice");
        }
      }
      long alignment = DEFAULT_ALIGNMENT;
      Object a = metadata.get("general.alignment");
      if (a instanceof Number n) {
        alignment = n.longValue();
        if (alignment < 1 || Long.bitCount(alignment) != 1) {
          throw new GgufException(
              path + ": general.alignment " + alignment + " is not a power of 2");
        }
      }
      long dataStart = (r.position + alignment - 1) / alignment * alignment;
      for (TensorInfo t : tensors.values()) {
        long end = dataStart + t.offset() + t.bytes();
        if (t.offset() < 0 || end > size) {
          throw new GgufException(
              path
                  + " is truncated: tensor "
                  + t.name()
                  + " ends at byte "
                  + end
                  + " but the file has "
                  + size);
        }
      }
      return new GgufFile(path, version, metadata, tensors, dataStart);
    }
  }

  public Path path() {
    return path;
  }

  public int version() {
    return version;
  }

  /**
   * The metadata: integers as {@link Long} (unsigned 64-bit values above {@code Long.MAX_VALUE}
   * wrap), floats as {@link Double}, booleans, strings, and arrays as {@link List}.
   */
  public Map<String, Object> metadata() {
    return metadata;
  }

  /** The tensor infos in file order. */
  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  public Optional<Object> value(String key) {
    return Optional.ofNullable(metadata.get(key));
  }

  public String string(String key) throws GgufException {
    return typed(key, String.class);
  }

  public long integer(String key) throws GgufException {
    return typed(key, Long.class);
  }

  public double number(String key) throws GgufException {
    Object v = required(key);
    if (v instanceof Number n) {
      return n.doubleValue();
    }
    throw wrongType(key, v, "a number");
  }

  /** A metadata array whose elements are all {@code type}. */
  public <T> List<T> list(String key, Class<T> type) throws GgufException {
    Object v = required(key);
    if (v instanceof List<?> l) {
      for (Object e : l) {
        if (!type.isInstance(e)) {
          throw wrongType(key, v, "an array of " + type.getSimpleName());
        }
      }
      @SuppressWarnings("unchecked")
      List<T> typedList = (List<T>) l;
      return typedList;
    }
    throw wrongType(key, v, "an array");
  }

  private <T> T typed(String key, Class<T> type) throws GgufException {
    Object v = required(key);
    if (type.isInstance(v)) {
      return type.cast(v);
    }
    throw wrongType(key, v, type == Long.class ? "an integer" : "a " + type.getSimpleName());
  }

  private Object required(String key) throws GgufException {
    Object v = metadata.get(key);
    if (v == null) {
      throw new GgufException(path + " has no metadata key " + key);
    }
    return v;
  }

  private GgufException wrongType(String key, Object v, String wanted) {
    return new GgufException(
        path + ": metadata " + key + " is " + v.getClass().getSimpleName() + ", not " + wanted);
  }

  /**
   * @throws GgufException naming the tensor and its type when {@link #floats} cannot read it
   */
  public void checkDequantizable(TensorInfo t) throws GgufException {
    if (!t.type().dequantizable()) {
      throw new GgufException(
          path
              + ": tensor "
              + t.name()
              + " is "
              + t.type()
              + "; this reader dequantizes F32, F16, Q8_0 and Q4_1 only");
    }
  }

  /**
   * A tensor's values as float32, in GGUF (row-major) order.
   *
   * @throws GgufException when its type is one this reader does not dequantize (named)
   */
  public float[] floats(TensorInfo t) throws IOException {
    checkDequantizable(t);
    if (t.elements() > Integer.MAX_VALUE - 8 || t.bytes() > Integer.MAX_VALUE) {
      throw new GgufException(path + ": tensor " + t.name() + " is too large to convert");
    }
    ByteBuffer data = ByteBuffer.allocate((int) t.bytes()).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long at = dataStart + t.offset();
      while (data.hasRemaining()) {
        int n = ch.read(data, at + data.position());
        if (n < 0) {
          throw new GgufException(path + " is truncated inside tensor " + t.name());
        }
      }
    }
    data.flip();
    float[] out = new float[(int) t.elements()];
    t.type().dequantize(data, out);
    return out;
  }

  /** Little-endian primitive reads that fail with a clear message at the end of the file. */
  private static final class Reader {
    private final InputStream in;
    private final Path path;
    private final byte[] buf = new byte[8];
    long position;

    Reader(InputStream in, Path path) {
      this.in = in;
      this.path = path;
    }

    private ByteBuffer read(int n) throws IOException {
      int got = in.readNBytes(buf, 0, n);
      if (got < n) {
        throw new GgufException(
            path + " is truncated: its header ends at byte " + (position + got));
      }
      position += n;
      return ByteBuffer.wrap(buf, 0, n).order(ByteOrder.LITTLE_ENDIAN);
    }

    int i32() throws IOException {
      return read(4).getInt();
    }

    long i64() throws IOException {
      return read(8).getLong();
    }

    long count(String what) throws IOException {
      long n = i64();
      if (n < 0 || n > MAX_COUNT) {
        throw new GgufException(path + ": implausible " + what + " " + n + " (corrupt header?)");
      }
      return n;
    }

    String string() throws IOException {
      long n = i64();
      if (n < 0 || n > (1 << 26)) {
        throw new GgufException(
            path + ": implausible string length " + n + " at byte " + (position - 8));
      }
      byte[] b = in.readNBytes((int) n);
      if (b.length < n) {
        throw new GgufException(
            path + " is truncated: its header ends at byte " + (position + b.length));
      }
      position += n;
      return new String(b, StandardCharsets.UTF_8);
    }

    Object value(int type, String key) throws IOException {
      return switch (type) {
        case 0 -> (long) (read(1).get() & 0xFF);
        case 1 -> (long) read(1).get();
        case 2 -> (long) (read(2).getShort() & 0xFFFF);
        case 3 -> (long) read(2).getShort();
        case 4 -> read(4).getInt() & 0xFFFFFFFFL;
        case 5 -> (long) read(4).getInt();
        case 6 -> (double) read(4).getFloat();
        case 7 -> read(1).get() != 0;
        case 8 -> string();
        case 9 -> {
          int elementType = i32();
          if (elementType == 9) {
            throw new GgufException(path + ": metadata " + key + " is a nested array");
          }
          long n = count("array length of " + key);
          List<Object> list = new ArrayList<>((int) Math.min(n, 1 << 16));
          for (long i = 0; i < n; i++) {
            list.add(value(elementType, key));
          }
          yield List.copyOf(list);
        }
        case 10, 11 -> read(8).getLong();
        case 12 -> read(8).getDouble();
        default ->
            throw new GgufException(path + ": metadata " + key + " has unknown value type " + type);
      };
    }
  }
}
