package sh.kaito.api.karpenter;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * One of {@code NodeClaim.spec.requirements}: a node selector requirement ({@code In}, {@code
 * NotIn}, {@code Exists}, {@code DoesNotExist}, {@code Gt}, {@code Lt}) with Karpenter's optional
 * {@code minValues}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class NodeSelectorRequirementWithMinValues {
  private String key;
  private String operator;
  private List<String> values;
  private Integer minValues;

  public NodeSelectorRequirementWithMinValues() {}

  public NodeSelectorRequirementWithMinValues(String key, String operator, List<String> values) {
    this.key = key;
    this.operator = operator;
    this.values = values;
  }

  /** {@code key In [values...]}. */
  public static NodeSelectorRequirementWithMinValues in(String key, String... values) {
    return new NodeSelectorRequirementWithMinValues(key, "In", List.of(values));
  }

  public String getKey() {
    return key;
  }

  public void setKey(String key) {
    this.key = key;
  }

  public String getOperator() {
    return operator;
  }

  public void setOperator(String operator) {
    this.operator = operator;
  }

  public List<String> getValues() {
    return values;
  }

  public void setValues(List<String> values) {
    this.values = values;
  }

  public Integer getMinValues() {
    return minValues;
  }

  public void setMinValues(Integer minValues) {
    this.minValues = minValues;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NodeSelectorRequirementWithMinValues r
        && java.util.Objects.equals(key, r.key)
        && java.util.Objects.equals(operator, r.operator)
        && java.util.Objects.equals(values, r.values)
        && java.util.Objects.equals(minValues, r.minValues);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(key, operator, values, minValues);
  }

  @Override
  public String toString() {
    return key + " " + operator + " " + values;
  }
}
