package sh.kaito.presets.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes small GGUF v3 files for tests, byte by byte from ggml's docs/gguf.md (independent of the
 * reader): metadata of every value type, tensors given as raw block bytes.
 */
final class GgufFixture {

  record Tensor(String name, long[] dims, int type, byte[] data) {}

  final Map<String, Object> metadata = new LinkedHashMap<>();
  final List<Tensor> tensors = new ArrayList<>();
  int version = 3;

  GgufFixture put(String key, Object value) {
    metadata.put(key, value);
    return this;
  }

  GgufFixture tensor(String name, long[] dims, int type, byte[] data) {
    tensors.add(new Tensor(name, dims, type, data));
    return this;
  }

  /** A tiny Llama with a 6-token GPT-2 vocabulary: enough metadata for the converter. */
  static GgufFixture tinyLlama() {
    GgufFixture f = new GgufFixture();
    f.put("general.architecture", "llama")
        .put("llama.block_count", new U32(1))
        .put("llama.context_length", new U32(128))
        .put("llama.embedding_length", new U32(4))
        .put("llama.feed_forward_length", new U32(8))
        .put("llama.attention.head_count", new U32(2))
        .put("llama.attention.head_count_kv", new U32(1))
        .put("llama.rope.freq_base", 10000.0f)
        .put("llama.attention.layer_norm_rms_epsilon", 1e-5f)
        .put("tokenizer.ggml.model", "gpt2")
        .put("tokenizer.ggml.pre", "smollm")
        .put("tokenizer.ggml.tokens", List.of("<s>", "</s>", "a", "b", "ab", "Ġ"))
        .put("tokenizer.ggml.token_type", new I32s(3, 3, 1, 1, 1, 1))
        .put("tokenizer.ggml.merges", List.of("a b"))
        .put("tokenizer.ggml.bos_token_id", new U32(0))
        .put("tokenizer.ggml.eos_token_id", new U32(1))
        .put("tokenizer.chat_template", "{{ messages[0]['content'] }}");
    return f;
  }

  /** GGUF value type 4 (uint32). */
  record U32(long value) {}

  /** An array of int32 (value type 9 of type 5). */
  record I32s(int... values) {}

  void write(Path file) throws IOException {
    Files.write(file, bytes());
  }

  byte[] bytes() {
    Out o = new Out();
    o.bytes("GGUF".getBytes(StandardCharsets.US_ASCII));
    o.i32(version);
    o.i64(tensors.size());
    o.i64(metadata.size());
    metadata.forEach(
        (k, v) -> {
          o.string(k);
          o.value(v, true);
        });
    long offset = 0;
    for (Tensor t : tensors) {
      o.string(t.name());
      o.i32(t.dims().length);
      for (long d : t.dims()) {
        o.i64(d);
      }
      o.i32(t.type());
      o.i64(offset);
      offset += (t.data().length + 31) / 32 * 32;
    }
    o.pad();
    for (Tensor t : tensors) {
      o.bytes(t.data());
      o.pad();
    }
    return o.buf.toByteArray();
  }

  private static final class Out {
    final ByteArrayOutputStream buf = new ByteArrayOutputStream();

    void bytes(byte[] b) {
      buf.write(b, 0, b.length);
    }

    private void le(int n, long v) {
      ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
      buf.write(b.array(), 0, n);
    }

    void i32(long v) {
      le(4, v);
    }

    void i64(long v) {
      le(8, v);
    }

    void string(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      i64(b.length);
      bytes(b);
    }

    void pad() {
      while (buf.size() % 32 != 0) {
        buf.write(0);
      }
    }

    void value(Object v, boolean typed) {
      if (v instanceof U32 u) {
        typeTag(typed, 4);
        i32(u.value());
      } else if (v instanceof Integer i) {
        typeTag(typed, 5);
        i32(i);
      } else if (v instanceof Float f) {
        typeTag(typed, 6);
        i32(Float.floatToIntBits(f));
      } else if (v instanceof Boolean b) {
        typeTag(typed, 7);
        buf.write(b ? 1 : 0);
      } else if (v instanceof String s) {
        typeTag(typed, 8);
        string(s);
      } else if (v instanceof Long l) {
        typeTag(typed, 11);
        i64(l);
      } else if (v instanceof Double d) {
        typeTag(typed, 12);
        i64(Double.doubleToLongBits(d));
      } else if (v instanceof Byte b) {
        typeTag(typed, 1);
        buf.write(b);
      } else if (v instanceof Short s) {
        typeTag(typed, 3);
        le(2, s);
      } else if (v instanceof I32s a) {
        typeTag(typed, 9);
        i32(5);
        i64(a.values().length);
        for (int x : a.values()) {
          i32(x);
        }
      } else if (v instanceof List<?> l) {
        typeTag(typed, 9);
        i32(8);
        i64(l.size());
        for (Object e : l) {
          value(e, false);
        }
      } else {
        throw new IllegalArgumentException("no GGUF type for " + v);
      }
    }

    private void typeTag(boolean typed, int tag) {
      if (typed) {
        i32(tag);
      }
    }
  }
}
