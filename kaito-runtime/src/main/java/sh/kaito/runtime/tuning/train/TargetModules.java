package sh.kaito.runtime.tuning.train;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import sh.kaito.runtime.model.Architecture;

/**
 * PEFT's {@code target_modules}: which linear modules get a LoRA update. Matched as PEFT's {@code
 * check_target_module_exists}: a list entry matches a module path equal to it or ending in {@code
 * "." + entry}; a single string is a regular expression matched against the whole path; {@code
 * all-linear} is every linear module but the output layer; none means PEFT's per-architecture
 * default.
 */
public sealed interface TargetModules {

  /** Entries matched by name (exactly, or as the last dotted components). */
  record Names(List<String> names) implements TargetModules {
    public Names {
      names = List.copyOf(names);
    }
  }

  /** A regular expression the whole module path must match. */
  record Regex(String regex) implements TargetModules {}

  /** Every linear module of the decoder layers. */
  record AllLinear() implements TargetModules {}

  /** PEFT's default for the architecture ({@code q_proj, v_proj}; Phi-3 {@code qkv_proj}). */
  record ArchitectureDefault() implements TargetModules {}

  /**
   * The module paths of {@code candidates} (in their order) that this selects.
   *
   * @throws IllegalArgumentException when none matches, with PEFT's message
   */
  default List<String> select(List<String> candidates, Architecture architecture) {
    TargetModules effective = this;
    if (this instanceof ArchitectureDefault) {
      effective =
          new Names(
              architecture.fusedProjections() ? List.of("qkv_proj") : List.of("q_proj", "v_proj"));
    }
    List<String> out = new ArrayList<>();
    for (String module : candidates) {
      if (effective.matches(module)) {
        out.add(module);
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(
          "LoraConfig.target_modules "
              + effective.describe()
              + " not found in the base model (its linear modules end in "
              + lastComponents(candidates)
              + ")");
    }
    return out;
  }

  private boolean matches(String module) {
    if (this instanceof Names n) {
      return n.names().stream().anyMatch(t -> module.equals(t) || module.endsWith("." + t));
    }
    if (this instanceof Regex r) {
      return Pattern.compile(r.regex()).matcher(module).matches();
    }
    return this instanceof AllLinear;
  }

  /** How {@code adapter_config.json} records it: a list, or the regex string. */
  default Object peftValue(List<String> selected) {
    if (this instanceof Regex r) {
      return r.regex();
    }
    return this instanceof Names n ? n.names() : lastComponents(selected);
  }

  private String describe() {
    if (this instanceof Names n) {
      return n.names().toString();
    }
    if (this instanceof Regex r) {
      return "'" + r.regex() + "'";
    }
    return this instanceof AllLinear ? "all-linear" : "(architecture default)";
  }

  private static List<String> lastComponents(List<String> modules) {
    return modules.stream().map(m -> m.substring(m.lastIndexOf('.') + 1)).distinct().toList();
  }
}
