package sh.kaito.api.karpenter;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code NodeClaim.status}, written by the provisioner. Lifecycle conditions are {@code Launched},
 * {@code Registered}, {@code Initialized} and the root {@code Ready} (see {@link
 * KarpenterConditions}).
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public class NodeClaimStatus {
  private String nodeName;
  private String providerID;
  private String imageID;
  private Map<String, Quantity> capacity = new LinkedHashMap<>();
  private Map<String, Quantity> allocatable = new LinkedHashMap<>();
  private List<Condition> conditions = new ArrayList<>();
  private String lastPodEventTime;

  public String getNodeName() {
    return nodeName;
  }

  public void setNodeName(String nodeName) {
    this.nodeName = nodeName;
  }

  public String getProviderID() {
    return providerID;
  }

  public void setProviderID(String providerID) {
    this.providerID = providerID;
  }

  public String getImageID() {
    return imageID;
  }

  public void setImageID(String imageID) {
    this.imageID = imageID;
  }

  public Map<String, Quantity> getCapacity() {
    return capacity;
  }

  public void setCapacity(Map<String, Quantity> capacity) {
    this.capacity = capacity;
  }

  public Map<String, Quantity> getAllocatable() {
    return allocatable;
  }

  public void setAllocatable(Map<String, Quantity> allocatable) {
    this.allocatable = allocatable;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }

  public String getLastPodEventTime() {
    return lastPodEventTime;
  }

  public void setLastPodEventTime(String lastPodEventTime) {
    this.lastPodEventTime = lastPodEventTime;
  }
}
