package sh.kaito.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * All tensors of a model directory: one {@code model.safetensors}, or shards listed in {@code
 * model.safetensors.index.json} (any {@code *.safetensors} in the directory when there is no
 * index).
 */
public final class WeightStore {

  private final Map<String, SafetensorsFile> byTensor;

  private WeightStore(Map<String, SafetensorsFile> byTensor) {
    this.byTensor = byTensor;
  }

  public static WeightStore open(Path dir) throws IOException {
    Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
    Path index = dir.resolve("model.safetensors.index.json");
    if (Files.isRegularFile(index)) {
      JsonNode map = new ObjectMapper().readTree(index.toFile()).path("weight_map");
      if (!map.isObject()) {
        throw new ModelFormatException(index + ": no weight_map");
      }
      Map<String, SafetensorsFile> files = new LinkedHashMap<>();
      for (var it = map.fields(); it.hasNext(); ) {
        var e = it.next();
        String shard = e.getValue().asText();
        SafetensorsFile f = files.get(shard);
        if (f == null) {
          f = SafetensorsFile.open(dir.resolve(shard));
          files.put(shard, f);
        }
        if (!f.tensors().containsKey(e.getKey())) {
          throw new ModelFormatException(
              index + " places '" + e.getKey() + "' in " + shard + ", which does not contain it");
        }
        byTensor.put(e.getKey(), f);
      }
    } else {
      List<Path> shards;
      try (Stream<Path> s = Files.list(dir)) {
        shards =
            s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
      }
      if (shards.isEmpty()) {
        throw new ModelFormatException("no *.safetensors weights in " + dir);
      }
      for (Path p : shards) {
        SafetensorsFile f = SafetensorsFile.open(p);
        f.tensors().keySet().forEach(name -> byTensor.put(name, f));
      }
    }
    return new WeightStore(byTensor);
  }

  public Set<String> names() {
    return byTensor.keySet();
  }

  public boolean contains(String name) {
    return byTensor.containsKey(name);
  }

  /** True when {@link #load} returns this tensor as a view of the read-only file mapping. */
  public boolean isMappedAs(String name, DataType floatType) {
    SafetensorsFile f = byTensor.get(name);
    return f != null
        && f.tensors().get(name).dtype().equals("F32")
        && floatType == DataType.FLOAT32;
  }

  /** Loads a tensor that must exist; see {@link SafetensorsFile#load}. */
  public NDArray load(String name, NDManager manager, DataType floatType) throws IOException {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) {
      throw new ModelFormatException("weights have no tensor '" + name + "'");
    }
    return f.load(name, manager, floatType);
  }

  /**
   * Streams a float tensor that must exist, without mapping it; see {@link
   * SafetensorsFile#readFloats}.
   */
  public int readFloats(String name, SafetensorsFile.FloatChunks into) throws IOException {
    return file(name).readFloats(name, into);
  }

  /** The shape of a tensor that must exist. */
  public long[] shape(String name) throws IOException {
    return file(name).tensors().get(name).shape().clone();
  }

  private SafetensorsFile file(String name) throws ModelFormatException {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) {
      throw new ModelFormatException("weights have no tensor '" + name + "'");
    }
    return f;
  }
}
