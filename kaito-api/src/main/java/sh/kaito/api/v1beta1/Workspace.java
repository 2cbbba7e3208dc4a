package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;
import java.util.Map;
import java.util.Objects;

/**
 * A Kaito {@code Workspace}: what a user applies to fine-tune or serve a model.
 *
 * <p>Upstream's quirk is kept on purpose: there is no {@code spec} wrapper. {@code resource},
 * {@code inference} and {@code tuning} are top-level siblings of {@code metadata} and {@code
 * status}, so YAML written for upstream Kaito applies unchanged.
 *
 * <p>One Java type serves both API versions. {@code v1beta1} is the storage version and the one the
 * typed client talks to; a {@code v1alpha1} document parses into this type and keeps its {@code
 * apiVersion}, so it serializes back as written. The two schemas differ only by fields that are
 * absent in v1alpha1 ({@code resource.partition}, {@code presetOptions.modelAccessSecret}, {@code
 * status.state}, {@code status.targetNodeCount}).
 */
@Group(Workspace.GROUP)
@Version(value = Workspace.VERSION, storage = true, served = true)
@Kind(Workspace.KIND)
@Plural("workspaces")
@Singular("workspace")
@ShortNames({"wk", "wks"})
@JsonInclude(JsonInclude.Include.NON_NULL)
// HasMetadata picks a class by apiVersion/kind; for this concrete type plain bean binding is right.
@JsonDeserialize(using = JsonDeserializer.None.class)
@JsonPropertyOrder({"apiVersion", "kind", "metadata", "resource", "inference", "tuning", "status"})
public class Workspace implements HasMetadata, Namespaced {

  public static final String GROUP = "kaito.sh";
  public static final String VERSION = "v1beta1";
  public static final String ALPHA_VERSION = "v1alpha1";
  public static final String KIND = "Workspace";
  public static final String API_VERSION = GROUP + "/" + VERSION;
  public static final String ALPHA_API_VERSION = GROUP + "/" + ALPHA_VERSION;
  public static final String CRD_NAME = "workspaces." + GROUP;

  private String apiVersion = API_VERSION;
  private String kind = KIND;
  private ObjectMeta metadata = new ObjectMeta();
  private ResourceSpec resource;
  private InferenceSpec inference;
  private TuningSpec tuning;
  private WorkspaceStatus status;

  public Workspace() {}

  @Override
  public String getApiVersion() {
    return apiVersion;
  }

  @Override
  public void setApiVersion(String apiVersion) {
    this.apiVersion = apiVersion;
  }

  @Override
  public String getKind() {
    return kind;
  }

  public void setKind(String kind) {
    this.kind = kind;
  }

  @Override
  public ObjectMeta getMetadata() {
    return metadata;
  }

  @Override
  public void setMetadata(ObjectMeta metadata) {
    this.metadata = metadata;
  }

  public ResourceSpec getResource() {
    return resource;
  }

  public void setResource(ResourceSpec resource) {
    this.resource = resource;
  }

  public InferenceSpec getInference() {
    return inference;
  }

  public void setInference(InferenceSpec inference) {
    this.inference = inference;
  }

  public TuningSpec getTuning() {
    return tuning;
  }

  public void setTuning(TuningSpec tuning) {
    this.tuning = tuning;
  }

  public WorkspaceStatus getStatus() {
    return status;
  }

  public void setStatus(WorkspaceStatus status) {
    this.status = status;
  }

  /** The workspace's annotations, never null (an empty map when it has none). */
  @JsonIgnore
  public Map<String, String> annotations() {
    Map<String, String> annotations = metadata == null ? null : metadata.getAnnotations();
    return annotations == null ? Map.of() : annotations;
  }

  /** True when this workspace fine-tunes a model (its {@code tuning} section is set). */
  @JsonIgnore
  public boolean hasTuning() {
    return tuning != null;
  }

  /** True when this workspace serves a model (its {@code inference} section is set). */
  @JsonIgnore
  public boolean hasInference() {
    return inference != null;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Workspace other)) {
      return false;
    }
    return Objects.equals(apiVersion, other.apiVersion)
        && Objects.equals(kind, other.kind)
        && Objects.equals(metadata, other.metadata)
        && Objects.equals(resource, other.resource)
        && Objects.equals(inference, other.inference)
        && Objects.equals(tuning, other.tuning)
        && Objects.equals(status, other.status);
  }

  @Override
  public int hashCode() {
    return Objects.hash(apiVersion, kind, metadata, resource, inference, tuning, status);
  }

  @Override
  public String toString() {
    String namespace = metadata == null ? null : metadata.getNamespace();
    String name = metadata == null ? null : metadata.getName();
    return "Workspace(" + namespace + "/" + name + ", " + apiVersion + ")";
  }
}
