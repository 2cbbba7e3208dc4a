package sh.kaito.api.yaml;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import sh.kaito.api.v1beta1.Workspace;

/**
 * Reads and writes Workspace YAML without a cluster.
 *
 * <p>Reading is strict where the API server would be: a field Kaito does not know inside our own
 * sections is an error naming its path (the API server would silently prune it, and the user would
 * lose it), as are wrong types. Inside embedded Kubernetes objects (pod templates, volume sources)
 * unknown fields are kept, since those are the Kubernetes API's to judge. Errors are {@link
 * WorkspaceYamlException}s with a message fit to show a user: no stack trace needed.
 */
public final class KaitoYaml {
  private KaitoYaml() {}

  private static final ObjectMapper MAPPER =
      new ObjectMapper(
              new YAMLFactory()
                  .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                  .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                  .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS))
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .findAndRegisterModules();

  /** The mapper used here, for tools that need the same settings. */
  public static ObjectMapper mapper() {
    return MAPPER;
  }

  /** Parses one Workspace document ({@code kaito.sh/v1alpha1} or {@code kaito.sh/v1beta1}). */
  public static Workspace parseWorkspace(String yaml) {
    JsonNode tree;
    try {
      tree = MAPPER.readTree(yaml);
    } catch (JsonProcessingException e) {
      throw new WorkspaceYamlException("not valid YAML: " + e.getOriginalMessage(), e);
    }
    if (tree == null || !tree.isObject()) {
      throw new WorkspaceYamlException(
          "expected a YAML mapping with apiVersion, kind and metadata");
    }
    String apiVersion = tree.path("apiVersion").asText("");
    String kind = tree.path("kind").asText("");
    if (!Workspace.KIND.equals(kind)) {
      throw new WorkspaceYamlException("kind is \"" + kind + "\", expected \"Workspace\"");
    }
    if (!apiVersion.equals(Workspace.API_VERSION)
        && !apiVersion.equals(Workspace.ALPHA_API_VERSION)) {
      throw new WorkspaceYamlException(
          "apiVersion is \""
              + apiVersion
              + "\", expected \""
              + Workspace.ALPHA_API_VERSION
              + "\" or \""
              + Workspace.API_VERSION
              + "\"");
    }
    try {
      return MAPPER.treeToValue(tree, Workspace.class);
    } catch (UnrecognizedPropertyException e) {
      throw new WorkspaceYamlException("unknown field \"" + path(e) + "\"" + knownFields(e), e);
    } catch (InvalidFormatException e) {
      throw new WorkspaceYamlException(
          "field \"" + path(e) + "\": cannot read " + quote(e.getValue()) + " as " + typeName(e),
          e);
    } catch (MismatchedInputException e) {
      throw new WorkspaceYamlException("field \"" + path(e) + "\": expected " + typeName(e), e);
    } catch (JsonProcessingException e) {
      throw new WorkspaceYamlException("invalid Workspace: " + e.getOriginalMessage(), e);
    }
  }

  /** Reads and parses a Workspace file. */
  public static Workspace readWorkspace(Path file) {
    try {
      return parseWorkspace(Files.readString(file));
    } catch (IOException e) {
      throw new WorkspaceYamlException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /** The workspace as YAML, fields in upstream's order, nothing invented. */
  public static String write(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize " + value, e);
    }
  }

  /** The workspace as a tree, for comparisons that must ignore key order. */
  public static JsonNode toTree(Object value) {
    return MAPPER.valueToTree(value);
  }

  /** Parses YAML text to a tree. */
  public static JsonNode readTree(String yaml) {
    try {
      return MAPPER.readTree(yaml);
    } catch (JsonProcessingException e) {
      throw new WorkspaceYamlException("not valid YAML: " + e.getOriginalMessage(), e);
    }
  }

  private static String path(JsonMappingException e) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference ref : e.getPath()) {
      if (ref.getFieldName() != null) {
        if (sb.length() > 0) {
          sb.append('.');
        }
        sb.append(ref.getFieldName());
      } else if (ref.getIndex() >= 0) {
        sb.append('[').append(ref.getIndex()).append(']');
      }
    }
    return sb.toString();
  }

  private static String knownFields(UnrecognizedPropertyException e) {
    if (e.getKnownPropertyIds() == null || e.getKnownPropertyIds().isEmpty()) {
      return "";
    }
    return "; known fields here: "
        + e.getKnownPropertyIds().stream()
            .map(Object::toString)
            .sorted()
            .collect(Collectors.joining(", "));
  }

  private static String typeName(MismatchedInputException e) {
    Class<?> type = e.getTargetType();
    if (type == null) {
      return "a different type";
    }
    if (type == Integer.class || type == int.class || type == Long.class) {
      return "an integer";
    }
    if (type == String.class) {
      return "a string";
    }
    if (java.util.Collection.class.isAssignableFrom(type)) {
      return "a list";
    }
    return "a mapping (" + type.getSimpleName() + ")";
  }

  private static String quote(Object value) {
    return value instanceof String s ? "\"" + s + "\"" : String.valueOf(value);
  }
}
