package sh.kaito.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.yaml.KaitoYaml;

/** Every example parses into the typed model and serializes back without losing or inventing. */
class ExamplesRoundTripTest {

  static List<Path> examples() throws IOException {
    try (Stream<Path> files = Files.walk(Path.of("."))) {
      return files
          .filter(p -> p.toString().endsWith(".yaml"))
          .filter(p -> !p.toString().contains("target"))
          .sorted()
          .toList();
    }
  }

  @ParameterizedTest
  @MethodSource("examples")
  void roundTripsWithoutLosingOrInventingFields(Path example) throws IOException {
    String text = Files.readString(example);
    JsonNode original = KaitoYaml.readTree(text);

    Workspace parsed = KaitoYaml.parseWorkspace(text);
    JsonNode written = KaitoYaml.readTree(KaitoYaml.write(parsed));

    // Scalars compare by their text: Kubernetes quantities such as `nvidia.com/gpu: 1` are written
    // back as the string "1", which is how the API server stores them too.
    assertThat(sameScalarsAsText(written, original))
        .as("round trip of %s:%n%s", example, KaitoYaml.write(parsed))
        .isTrue();
    assertThat(parsed.getApiVersion()).isEqualTo(original.get("apiVersion").asText());
  }

  static boolean sameScalarsAsText(JsonNode a, JsonNode b) {
    if (a.isValueNode() && b.isValueNode()) {
      return a.asText().equals(b.asText());
    }
    if (a.isArray() && b.isArray()) {
      if (a.size() != b.size()) {
        return false;
      }
      for (int i = 0; i < a.size(); i++) {
        if (!sameScalarsAsText(a.get(i), b.get(i))) {
          return false;
        }
      }
      return true;
    }
    if (a.isObject() && b.isObject()) {
      if (a.size() != b.size()) {
        return false;
      }
      var names = a.fieldNames();
      while (names.hasNext()) {
        String name = names.next();
        if (!b.has(name) || !sameScalarsAsText(a.get(name), b.get(name))) {
          return false;
        }
      }
      return true;
    }
    return false;
  }

  @ParameterizedTest
  @MethodSource("examples")
  void examplesAreTypedNotJustPassedThrough(Path example) {
    Workspace parsed = KaitoYaml.readWorkspace(example);
    assertThat(parsed.getMetadata().getName()).isNotBlank();
    assertThat(parsed.getResource().labelSelector().getMatchLabels()).isNotEmpty();
    assertThat(parsed.hasInference() ^ parsed.hasTuning()).isTrue();
  }
}
