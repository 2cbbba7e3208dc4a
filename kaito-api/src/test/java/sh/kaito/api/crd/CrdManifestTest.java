package sh.kaito.api.crd;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import sh.kaito.api.TestWorkspaces;
import sh.kaito.api.karpenter.NodeClaim;
import sh.kaito.api.karpenter.NodeClaimStatus;
import sh.kaito.api.karpenter.NodeClassReference;
import sh.kaito.api.karpenter.NodeSelectorRequirementWithMinValues;
import sh.kaito.api.v1beta1.AdapterSpec;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.DataSource;
import sh.kaito.api.v1beta1.InferenceSpec;
import sh.kaito.api.v1beta1.PartitionSpec;
import sh.kaito.api.v1beta1.PresetOptions;
import sh.kaito.api.v1beta1.PresetSpec;
import sh.kaito.api.v1beta1.ResourceSpec;
import sh.kaito.api.v1beta1.TuningProgress;
import sh.kaito.api.v1beta1.TuningSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.v1beta1.WorkspaceStatus;
import sh.kaito.api.yaml.KaitoYaml;

/**
 * The CRD manifests: structural schemas, version layout and printer columns, and in step with the
 * Java model (every field the model writes is in the schema, and every schema field is one the
 * model writes). The API server's own check of the same files runs in the control-plane ITs.
 */
class CrdManifestTest {

  static CustomResourceDefinition load(String name) throws IOException {
    try (InputStream in = CrdManifestTest.class.getResourceAsStream("/crds/" + name)) {
      assertThat(in).as("classpath /crds/" + name).isNotNull();
      return KaitoYaml.mapper().readValue(in, CustomResourceDefinition.class);
    }
  }

  static CustomResourceDefinitionVersion version(CustomResourceDefinition crd, String name) {
    return crd.getSpec().getVersions().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void workspaceVersionsAndIdentity() throws IOException {
    CustomResourceDefinition crd = load("kaito.sh_workspaces.yaml");
    assertThat(crd.getMetadata().getName()).isEqualTo(Workspace.CRD_NAME);
    assertThat(crd.getSpec().getGroup()).isEqualTo("kaito.sh");
    assertThat(crd.getSpec().getScope()).isEqualTo("Namespaced");
    assertThat(crd.getSpec().getNames().getKind()).isEqualTo("Workspace");
    assertThat(crd.getSpec().getNames().getPlural()).isEqualTo("workspaces");
    assertThat(crd.getSpec().getNames().getShortNames()).containsExactly("wk", "wks");
    assertThat(crd.getSpec().getVersions())
        .extracting(CustomResourceDefinitionVersion::getName)
        .containsExactly("v1alpha1", "v1beta1");
    CustomResourceDefinitionVersion alpha = version(crd, "v1alpha1");
    CustomResourceDefinitionVersion beta = version(crd, "v1beta1");
    assertThat(alpha.getServed()).isTrue();
    assertThat(alpha.getStorage()).isFalse();
    assertThat(beta.getServed()).isTrue();
    assertThat(beta.getStorage()).isTrue();
    assertThat(alpha.getSubresources().getStatus()).isNotNull();
    assertThat(beta.getSubresources().getStatus()).isNotNull();
    assertThat(crd.getSpec().getConversion()).isNull();
  }

  @Test
  void printerColumnsMatchTheSeedAndUpstream() throws IOException {
    CustomResourceDefinition crd = load("kaito.sh_workspaces.yaml");
    // kubectl prints NAME first and upper-cases these: the seed's
    // NAME INSTANCE RESOURCEREADY INFERENCEREADY WORKSPACEREADY AGE.
    assertThat(version(crd, "v1alpha1").getAdditionalPrinterColumns())
        .extracting(CustomResourceColumnDefinition::getName)
        .containsExactly("Instance", "ResourceReady", "InferenceReady", "WorkspaceReady", "Age");
    // kubectl always shows the preferred version, v1beta1, whichever version was applied. Its
    // default view (priority 0) is the seed's; `-o wide` adds upstream's v1beta1 columns.
    List<CustomResourceColumnDefinition> beta =
        version(crd, "v1beta1").getAdditionalPrinterColumns();
    assertThat(beta.stream().filter(c -> c.getPriority() == null || c.getPriority() == 0))
        .extracting(CustomResourceColumnDefinition::getName)
        .containsExactly("Instance", "ResourceReady", "InferenceReady", "WorkspaceReady", "Age");
    assertThat(beta)
        .extracting(CustomResourceColumnDefinition::getName)
        .containsExactly(
            "Instance",
            "ResourceReady",
            "InferenceReady",
            "JobStarted",
            "WorkspaceSucceeded",
            "TargetNodeCount",
            "State",
            "WorkspaceReady",
            "Age");
  }

  @Test
  void conditionColumnsReadTheConditionsTheControllerWrites() throws IOException {
    CustomResourceDefinition crd = load("kaito.sh_workspaces.yaml");
    Pattern conditionPath =
        Pattern.compile("^\\.status\\.conditions\\[\\?\\(@\\.type==\"(\\w+)\"\\)\\]\\.status$");
    Set<String> constants = stringConstants(WorkspaceConditions.class);
    for (CustomResourceDefinitionVersion v : crd.getSpec().getVersions()) {
      for (CustomResourceColumnDefinition column : v.getAdditionalPrinterColumns()) {
        Matcher m = conditionPath.matcher(column.getJsonPath());
        if (m.matches()) {
          assertThat(m.group(1)).as(column.getName()).isEqualTo(column.getName());
          assertThat(constants).contains(m.group(1));
        }
      }
    }
    assertThat(version(crd, "v1alpha1").getAdditionalPrinterColumns().get(0).getJsonPath())
        .isEqualTo(".resource.instanceType");
  }

  @Test
  void schemasAreStructural() throws IOException {
    for (String file : List.of("kaito.sh_workspaces.yaml", "karpenter.sh_nodeclaims.yaml")) {
      CustomResourceDefinition crd = load(file);
      for (CustomResourceDefinitionVersion v : crd.getSpec().getVersions()) {
        List<String> problems = new ArrayList<>();
        checkStructural(v.getSchema().getOpenAPIV3Schema(), v.getName(), problems);
        assertThat(problems).as(file + " " + v.getName()).isEmpty();
      }
    }
  }

  @Test
  void workspaceSchemaAndJavaModelHaveTheSameFields() throws IOException {
    CustomResourceDefinition crd = load("kaito.sh_workspaces.yaml");
    JsonNode full = KaitoYaml.toTree(fullWorkspace());
    Set<String> modelPaths = new TreeSet<>();
    collectPaths(full, "", modelPaths);

    Set<String> betaPaths = new TreeSet<>();
    collectSchemaPaths(version(crd, "v1beta1").getSchema().getOpenAPIV3Schema(), "", betaPaths);
    assertThat(modelPaths).as("model fields missing from the v1beta1 schema").isSubsetOf(betaPaths);
    assertThat(betaPaths).as("schema fields the model never writes").isSubsetOf(modelPaths);

    Set<String> alphaPaths = new TreeSet<>();
    collectSchemaPaths(version(crd, "v1alpha1").getSchema().getOpenAPIV3Schema(), "", alphaPaths);
    Set<String> betaOnly = new TreeSet<>(betaPaths);
    betaOnly.removeAll(alphaPaths);
    assertThat(betaOnly)
        .as("fields only v1beta1 has")
        .allMatch(
            p ->
                p.startsWith(".resource.partition")
                    || p.equals(".inference.preset.presetOptions.modelAccessSecret")
                    || p.equals(".tuning.preset.presetOptions.modelAccessSecret")
                    || p.equals(".status.state")
                    || p.equals(".status.targetNodeCount")
                    || p.startsWith(".status.tuningProgress"));
    assertThat(alphaPaths).isSubsetOf(betaPaths);
  }

  @Test
  void nodeClaimCrdIsClusterScopedKarpenterV1AndMatchesTheModel() throws IOException {
    CustomResourceDefinition crd = load("karpenter.sh_nodeclaims.yaml");
    assertThat(crd.getMetadata().getName()).isEqualTo(NodeClaim.CRD_NAME);
    assertThat(crd.getSpec().getScope()).isEqualTo("Cluster");
    CustomResourceDefinitionVersion v1 = version(crd, "v1");
    assertThat(v1.getStorage()).isTrue();
    assertThat(v1.getSubresources().getStatus()).isNotNull();

    Set<String> modelPaths = new TreeSet<>();
    collectPaths(KaitoYaml.toTree(fullNodeClaim()), "", modelPaths);
    Set<String> schemaPaths = new TreeSet<>();
    collectSchemaPaths(v1.getSchema().getOpenAPIV3Schema(), "", schemaPaths);
    assertThat(modelPaths).isSubsetOf(schemaPaths);
  }

  /** A workspace with every field of ours set, so serialization shows the whole model. */
  static Workspace fullWorkspace() {
    Workspace ws = TestWorkspaces.inference();
    ws.setResource(
        new ResourceSpec(
            1,
            "Standard_NC24ads_A100_v4",
            TestWorkspaces.selector("a", "b"),
            List.of("node-1"),
            new PartitionSpec("mig", "1g.10gb", 1)));
    PresetSpec preset =
        new PresetSpec("phi-3", "public", new PresetOptions("img", List.of("pull"), "hf-secret"));
    ws.setInference(
        new InferenceSpec(
            preset,
            TestWorkspaces.template(),
            "cfg",
            List.of(
                new AdapterSpec(
                    new DataSource(
                        "a", List.of("https://x"), TestWorkspaces.pvc("c"), "i", List.of("s")),
                    "1.0"))));
    ws.setTuning(
        new TuningSpec(
            preset,
            "lora",
            "cfg",
            new DataSource("d", List.of("https://x"), TestWorkspaces.pvc("c"), "i", List.of("s")),
            new DataDestination(TestWorkspaces.pvc("o"), "img", "push")));
    Condition condition =
        new ConditionBuilder()
            .withType("ResourceReady")
            .withStatus("True")
            .withReason("r")
            .withMessage("m")
            .withObservedGeneration(1L)
            .withLastTransitionTime("2026-01-01T00:00:00Z")
            .build();
    ws.setStatus(
        new WorkspaceStatus(
            List.of("node-1"),
            List.of(condition),
            "Ready",
            1,
            new TuningProgress(1L, 10L, "0.1", "1.5", "100.0", 60L, "2026-01-01T00:00:00Z")));
    return ws;
  }

  static NodeClaim fullNodeClaim() {
    NodeClaim nc = new NodeClaim();
    nc.getMetadata().setName("ws1234");
    nc.getSpec().setNodeClassRef(new NodeClassReference("kaito.sh", "KaitoNodeClass", "default"));
    nc.getSpec()
        .getTaints()
        .add(new TaintBuilder().withKey("sku").withValue("gpu").withEffect("NoSchedule").build());
    nc.getSpec()
        .getStartupTaints()
        .add(new TaintBuilder().withKey("x").withEffect("NoSchedule").build());
    NodeSelectorRequirementWithMinValues r =
        NodeSelectorRequirementWithMinValues.in(
            "node.kubernetes.io/instance-type", "Standard_NC6s_v3");
    r.setMinValues(1);
    nc.getSpec().getRequirements().add(r);
    nc.getSpec().getResources().getRequests().put("storage", new Quantity("100Gi"));
    nc.getSpec().setExpireAfter("Never");
    nc.getSpec().setTerminationGracePeriod("1h");
    NodeClaimStatus status = new NodeClaimStatus();
    status.setNodeName("node");
    status.setProviderID("azure:///x");
    status.setImageID("img");
    status.setCapacity(Map.of("nvidia.com/gpu", new Quantity("1")));
    status.setAllocatable(Map.of("nvidia.com/gpu", new Quantity("1")));
    status.setLastPodEventTime("2026-01-01T00:00:00Z");
    nc.setStatus(status);
    return nc;
  }

  /** Embedded Kubernetes types and free-key maps: compared as a whole, not field by field. */
  static boolean isOpaque(String path) {
    return path.equals(".metadata")
        || Stream.of(
                ".labelSelector",
                ".conditions",
                ".taints",
                ".startupTaints",
                ".requests",
                ".capacity",
                ".allocatable")
            .anyMatch(path::endsWith);
  }

  /**
   * Object keys down to leaves; stops at maps with free keys and at embedded Kubernetes objects.
   */
  static void collectPaths(JsonNode node, String path, Set<String> out) {
    if (isOpaque(path) || path.endsWith(".template") || path.endsWith(".volumeSource")) {
      if (!path.isEmpty()) {
        out.add(path);
      }
      return;
    }
    if (node.isObject()) {
      if (!path.isEmpty()) {
        out.add(path);
      }
      Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> f = fields.next();
        collectPaths(f.getValue(), path + "." + f.getKey(), out);
      }
    } else if (node.isArray() && node.size() > 0 && node.get(0).isObject()) {
      collectPaths(node.get(0), path, out);
    } else {
      out.add(path);
    }
  }

  static void collectSchemaPaths(JSONSchemaProps schema, String path, Set<String> out) {
    if (isOpaque(path) || Boolean.TRUE.equals(schema.getXKubernetesPreserveUnknownFields())) {
      out.add(path);
      return;
    }
    if (schema.getProperties() != null && !schema.getProperties().isEmpty()) {
      if (!path.isEmpty()) {
        out.add(path);
      }
      schema.getProperties().forEach((k, v) -> collectSchemaPaths(v, path + "." + k, out));
    } else if ("array".equals(schema.getType())
        && schema.getItems().getSchema().getProperties() != null) {
      collectSchemaPaths(schema.getItems().getSchema(), path, out);
    } else {
      out.add(path);
    }
  }

  /** The API server's structural rules that a hand-written schema most easily breaks. */
  static void checkStructural(JSONSchemaProps s, String path, List<String> problems) {
    boolean preserve = Boolean.TRUE.equals(s.getXKubernetesPreserveUnknownFields());
    boolean intOrString = Boolean.TRUE.equals(s.getXKubernetesIntOrString());
    if (s.getType() == null && !preserve && !intOrString) {
      problems.add(path + ": no type");
    }
    if ("array".equals(s.getType()) && (s.getItems() == null || s.getItems().getSchema() == null)) {
      problems.add(path + ": array without items");
    }
    if ("object".equals(s.getType())
        && (s.getProperties() == null || s.getProperties().isEmpty())
        && s.getAdditionalProperties() == null
        && !preserve
        && !path.endsWith(".metadata")
        && !path.endsWith("/status-subresource")) {
      problems.add(path + ": object with no properties, additionalProperties or preserve flag");
    }
    if (s.getProperties() != null) {
      s.getProperties().forEach((k, v) -> checkStructural(v, path + "." + k, problems));
    }
    if (s.getItems() != null && s.getItems().getSchema() != null) {
      checkStructural(s.getItems().getSchema(), path + "[]", problems);
    }
    if (s.getAdditionalProperties() != null && s.getAdditionalProperties().getSchema() != null) {
      JSONSchemaProps values = s.getAdditionalProperties().getSchema();
      if (values.getAnyOf() == null || values.getAnyOf().isEmpty()) {
        checkStructural(values, path + "{}", problems);
      }
    }
  }

  static Set<String> stringConstants(Class<?> type) {
    Set<String> values = new TreeSet<>();
    for (Field f : type.getDeclaredFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
        try {
          values.add((String) f.get(null));
        } catch (IllegalAccessException e) {
          throw new AssertionError(e);
        }
      }
    }
    return values;
  }
}
