package sh.kaito.presets.catalog;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The model catalog, read from {@code sh/kaito/presets/catalog/presets.yaml}. Immutable; names are
 * matched case-insensitively, as upstream lower-cases preset names.
 */
public final class PresetCatalog {

  static final String RESOURCE = "/sh/kaito/presets/catalog/presets.yaml";

  private static final class Holder {
    private static final PresetCatalog BUILT_IN = load();
  }

  private final Map<String, ModelPreset> byName;

  public PresetCatalog(Collection<ModelPreset> presets) {
    Map<String, ModelPreset> map = new LinkedHashMap<>();
    for (ModelPreset p : presets) {
      if (map.put(key(p.name()), p) != null) {
        throw new IllegalArgumentException("duplicate preset " + p.name());
      }
    }
    this.byName = Map.copyOf(map);
    this.ordered = List.copyOf(map.values());
  }

  private final List<ModelPreset> ordered;

  /** The catalog shipped in this module. */
  public static PresetCatalog builtIn() {
    return Holder.BUILT_IN;
  }

  public static PresetCatalog read(InputStream yaml) throws IOException {
    ObjectMapper mapper =
        new ObjectMapper(new YAMLFactory())
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);
    CatalogFile file = mapper.readValue(yaml, CatalogFile.class);
    return new PresetCatalog(file.presets());
  }

  private static PresetCatalog load() {
    try (InputStream in = PresetCatalog.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + RESOURCE);
      }
      return read(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
  }

  /** Every preset, deprecated ones included, in file order. */
  public List<ModelPreset> all() {
    return ordered;
  }

  /** Presets users may deploy (not deprecated). */
  public List<ModelPreset> supported() {
    return ordered.stream().filter(p -> !p.deprecated()).toList();
  }

  /** Resolves a name: found, deprecated (refused with upstream's message) or unknown. */
  public PresetMatch lookup(String name) {
    ModelPreset preset = name == null ? null : byName.get(key(name));
    if (preset == null) {
      return new PresetMatch.Unknown(name);
    }
    return preset.deprecated() ? new PresetMatch.Deprecated(preset) : new PresetMatch.Found(preset);
  }

  /** A supported (not deprecated) preset by name. */
  public Optional<ModelPreset> find(String name) {
    return lookup(name) instanceof PresetMatch.Found f ? Optional.of(f.preset()) : Optional.empty();
  }

  private static String key(String name) {
    return name.trim().toLowerCase(Locale.ROOT);
  }

  record CatalogFile(List<ModelPreset> presets) {}
}
