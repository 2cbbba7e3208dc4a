package sh.kaito.api.yaml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import sh.kaito.api.v1beta1.Workspace;

/** Bad YAML gets a message that names the problem and where it is. */
class KaitoYamlTest {
  private static final String HEADER =
      "apiVersion: kaito.sh/v1beta1\nkind: Workspace\nmetadata:\n  name: ws\n";

  @Test
  void wrongTypeForCountNamesTheField() {
    assertThatThrownBy(
            () ->
                KaitoYaml.parseWorkspace(
                    HEADER + "resource:\n  count: many\n  labelSelector: {matchLabels: {a: b}}\n"))
        .isInstanceOf(WorkspaceYamlException.class)
        .hasMessage("field \"resource.count\": cannot read \"many\" as an integer");
  }

  @Test
  void unknownFieldInOurSectionsIsNamedWithTheKnownOnes() {
    assertThatThrownBy(() -> KaitoYaml.parseWorkspace(HEADER + "tuning:\n  methd: lora\n"))
        .isInstanceOf(WorkspaceYamlException.class)
        .hasMessageStartingWith("unknown field \"tuning.methd\"")
        .hasMessageContaining("method");
  }

  @Test
  void aSpecWrapperIsRejectedBecauseKaitoHasNone() {
    assertThatThrownBy(() -> KaitoYaml.parseWorkspace(HEADER + "spec:\n  resource: {}\n"))
        .hasMessageStartingWith("unknown field \"spec\"");
  }

  @Test
  void unknownFieldsInsideAPodTemplateAreKept() {
    Workspace ws =
        KaitoYaml.parseWorkspace(
            HEADER
                + "inference:\n  template:\n    spec:\n      containers: [{name: c, image: i}]\n"
                + "      futureField: {x: 1}\n");
    assertThat(KaitoYaml.write(ws)).contains("futureField");
  }

  @Test
  void wrongKindAndVersionAndGarbage() {
    assertThatThrownBy(() -> KaitoYaml.parseWorkspace("apiVersion: v1\nkind: Pod\n"))
        .hasMessage("kind is \"Pod\", expected \"Workspace\"");
    assertThatThrownBy(() -> KaitoYaml.parseWorkspace("apiVersion: kaito.sh/v2\nkind: Workspace\n"))
        .hasMessageStartingWith("apiVersion is \"kaito.sh/v2\"");
    assertThatThrownBy(() -> KaitoYaml.parseWorkspace("a: [unclosed"))
        .isInstanceOf(WorkspaceYamlException.class)
        .hasMessageStartingWith("not valid YAML");
    assertThatThrownBy(() -> KaitoYaml.parseWorkspace("- just\n- a list\n"))
        .hasMessageStartingWith("expected a YAML mapping");
  }
}
