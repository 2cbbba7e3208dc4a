package sh.kaito.presets.catalog;

/** The answer to "which preset is this name?". */
public sealed interface PresetMatch {

  /** The user-facing message for names that cannot be used, in upstream's words. */
  String message();

  /** A supported preset. */
  record Found(ModelPreset preset) implements PresetMatch {
    @Override
    public String message() {
      return "";
    }
  }

  /** A preset upstream deprecated: {@code Model phi-2 is deprecated and no longer supported}. */
  record Deprecated(ModelPreset preset) implements PresetMatch {
    @Override
    public String message() {
      return "Model " + preset.name() + " is deprecated and no longer supported";
    }
  }

  /** A name the catalog does not know. */
  record Unknown(String name) implements PresetMatch {
    @Override
    public String message() {
      return "Unsupported inference preset name " + name;
    }
  }
}
