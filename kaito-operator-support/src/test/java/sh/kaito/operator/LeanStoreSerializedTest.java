package sh.kaito.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.List;
import org.junit.jupiter.api.Test;

class LeanStoreSerializedTest {
  @Test
  void keepsTheTrimmedObjectAsJsonAndHandsOutFreshCopies() {
    LeanStore<Pod> store =
        LeanStore.serialized(new KubernetesSerialization(), Pod.class, p -> p.setSpec(null));
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withNamespace("ns")
            .withName("p")
            .addToLabels("kaito.sh/workspace", "w")
            .withManagedFields(List.of(new ManagedFieldsEntry()))
            .endMetadata()
            .withNewSpec()
            .withNodeName("n")
            .endSpec()
            .withNewStatus()
            .withPhase("Running")
            .endStatus()
            .build();
    assertThat(store.put(store.getKey(pod), pod)).as("nothing before").isNull();
    Pod first = store.get("ns/p");
    assertThat(first.getMetadata().getLabels()).containsEntry("kaito.sh/workspace", "w");
    assertThat(first.getMetadata().getManagedFields()).isEmpty();
    assertThat(first.getSpec()).isNull();
    assertThat(first.getStatus().getPhase()).isEqualTo("Running");
    first.getStatus().setPhase("Failed");
    assertThat(store.get("ns/p").getStatus().getPhase())
        .as("a copy each time")
        .isEqualTo("Running");
    assertThat(store.values()).hasSize(1);
    assertThat(store.remove("ns/p").getMetadata().getName()).isEqualTo("p");
    assertThat(store.size()).isZero();
  }
}
