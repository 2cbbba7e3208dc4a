package sh.kaito.presets.sku;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The GPU instance types of one cloud, read from {@code sh/kaito/presets/sku/<cloud>-skus.yaml}.
 */
public final class SkuTable {

  private static final class Holder {
    private static final SkuTable AZURE = load("/sh/kaito/presets/sku/azure-skus.yaml");
  }

  private final String cloud;
  private final Map<String, GpuSku> byName;

  public SkuTable(String cloud, List<GpuSku> skus) {
    this.cloud = cloud;
    Map<String, GpuSku> map = new LinkedHashMap<>();
    for (GpuSku sku : skus) {
      if (map.put(sku.name(), sku) != null) {
        throw new IllegalArgumentException("duplicate SKU " + sku.name());
      }
    }
    this.byName = java.util.Collections.unmodifiableMap(map);
  }

  public static SkuTable azure() {
    return Holder.AZURE;
  }

  public String cloud() {
    return cloud;
  }

  /** Exact, case-sensitive match, as upstream's map lookup. */
  public Optional<GpuSku> find(String instanceType) {
    return Optional.ofNullable(instanceType == null ? null : byName.get(instanceType));
  }

  /** All instance type names, in table order. */
  public List<String> names() {
    return List.copyOf(byName.keySet());
  }

  public List<GpuSku> all() {
    return List.copyOf(byName.values());
  }

  private static SkuTable load(String resource) {
    try (InputStream in = SkuTable.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + resource);
      }
      SkuFile file =
          new ObjectMapper(new YAMLFactory())
              .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true)
              .readValue(in, SkuFile.class);
      return new SkuTable(file.cloud(), file.skus());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + resource, e);
    }
  }

  record SkuFile(String cloud, List<GpuSku> skus) {}
}
