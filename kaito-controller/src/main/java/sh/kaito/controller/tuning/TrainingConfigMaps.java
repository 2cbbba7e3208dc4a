package sh.kaito.controller.tuning;

import io.fabric8.kubernetes.api.model.ConfigMap;
import java.util.Map;
import java.util.Optional;
import sh.kaito.api.v1beta1.TuningSpec;
import sh.kaito.api.validation.TrainingConfigRules;

/**
 * Which training-config ConfigMap a tuning workspace uses (contract §2.6): the one {@code
 * tuning.config} names, in the workspace's namespace; without one, the method's default template
 * ({@code lora-params-template} / {@code qlora-params-template}) — a copy already in the
 * workspace's namespace, else the operator's in its own namespace (as upstream's Helm chart
 * installs them, so an administrator can change the defaults), else upstream's built-in text. The
 * webhook validates what this finds; the controller mounts it.
 */
public final class TrainingConfigMaps {

  /** Reads one ConfigMap; null when it does not exist. May throw the client's exceptions. */
  @FunctionalInterface
  public interface Reader {
    ConfigMap get(String namespace, String name);
  }

  /**
   * A training config found for a workspace.
   *
   * @param name the ConfigMap's name (mounted under this name in the workspace's namespace)
   * @param namespace where it was found (the workspace's or the operator's); empty for the built-in
   *     default
   * @param data its data (key {@code training_config.yaml})
   * @param inWorkspaceNamespace true when it already exists where the Job can mount it
   */
  public record Found(
      String name, String namespace, Map<String, String> data, boolean inWorkspaceNamespace) {
    public Found {
      data = data == null ? Map.of() : Map.copyOf(data);
    }
  }

  private final Reader reader;
  private final String templateNamespace;

  /**
   * @param templateNamespace the operator's namespace holding the default templates, or null
   */
  public TrainingConfigMaps(Reader reader, String templateNamespace) {
    this.reader = reader;
    this.templateNamespace = templateNamespace;
  }

  /** A reader for a cluster without ConfigMaps: only the built-in defaults exist. */
  public static TrainingConfigMaps builtInOnly() {
    return new TrainingConfigMaps((ns, name) -> null, null);
  }

  /**
   * The config a tuning workspace in {@code namespace} uses; empty when the ConfigMap it names does
   * not exist, or its method has no default.
   */
  public Optional<Found> find(String namespace, TuningSpec tuning) {
    String named = tuning.config();
    if (named != null && !named.isEmpty()) {
      return Optional.ofNullable(reader.get(namespace, named))
          .map(cm -> new Found(named, namespace, cm.getData(), true));
    }
    String template = TrainingConfigRules.defaultTemplateName(tuning.method());
    if (template == null) {
      return Optional.empty();
    }
    ConfigMap copy = reader.get(namespace, template);
    if (copy != null) {
      return Optional.of(new Found(template, namespace, copy.getData(), true));
    }
    ConfigMap operators =
        templateNamespace == null || templateNamespace.equals(namespace)
            ? null
            : reader.get(templateNamespace, template);
    if (operators != null) {
      return Optional.of(new Found(template, templateNamespace, operators.getData(), false));
    }
    return Optional.of(
        new Found(
            template,
            "",
            Map.of(TrainingConfigRules.KEY, TrainingConfigRules.defaultTemplate(template)),
            false));
  }
}
