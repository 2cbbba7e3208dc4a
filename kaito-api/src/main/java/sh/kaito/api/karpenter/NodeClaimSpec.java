package sh.kaito.api.karpenter;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code NodeClaim.spec}: what node is asked for. */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public class NodeClaimSpec {
  private NodeClassReference nodeClassRef;
  private List<Taint> taints = new ArrayList<>();
  private List<Taint> startupTaints = new ArrayList<>();
  private List<NodeSelectorRequirementWithMinValues> requirements = new ArrayList<>();
  private ResourceRequirements resources = new ResourceRequirements();
  private String expireAfter;
  private String terminationGracePeriod;

  public NodeClassReference getNodeClassRef() {
    return nodeClassRef;
  }

  public void setNodeClassRef(NodeClassReference nodeClassRef) {
    this.nodeClassRef = nodeClassRef;
  }

  public List<Taint> getTaints() {
    return taints;
  }

  public void setTaints(List<Taint> taints) {
    this.taints = taints;
  }

  public List<Taint> getStartupTaints() {
    return startupTaints;
  }

  public void setStartupTaints(List<Taint> startupTaints) {
    this.startupTaints = startupTaints;
  }

  public List<NodeSelectorRequirementWithMinValues> getRequirements() {
    return requirements;
  }

  public void setRequirements(List<NodeSelectorRequirementWithMinValues> requirements) {
    this.requirements = requirements;
  }

  public ResourceRequirements getResources() {
    return resources;
  }

  public void setResources(ResourceRequirements resources) {
    this.resources = resources;
  }

  public String getExpireAfter() {
    return expireAfter;
  }

  public void setExpireAfter(String expireAfter) {
    this.expireAfter = expireAfter;
  }

  public String getTerminationGracePeriod() {
    return terminationGracePeriod;
  }

  public void setTerminationGracePeriod(String terminationGracePeriod) {
    this.terminationGracePeriod = terminationGracePeriod;
  }

  /** The first requirement with this key, or null. */
  public NodeSelectorRequirementWithMinValues requirement(String key) {
    return requirements.stream().filter(r -> key.equals(r.getKey())).findFirst().orElse(null);
  }

  /** {@code spec.resources}: Karpenter reads only {@code requests}. */
  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  public static class ResourceRequirements {
    private Map<String, Quantity> requests = new LinkedHashMap<>();

    public Map<String, Quantity> getRequests() {
      return requests;
    }

    public void setRequests(Map<String, Quantity> requests) {
      this.requests = requests;
    }
  }
}
