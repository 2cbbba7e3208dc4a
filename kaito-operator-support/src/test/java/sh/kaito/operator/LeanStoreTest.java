package sh.kaito.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.List;
import org.junit.jupiter.api.Test;

class LeanStoreTest {
  @Test
  void storesTrimmedObjectsUnderTheInformersKey() {
    LeanStore<Pod> store =
        LeanStore.trimming(
            p -> {
              LeanStore.dropLastApplied(p);
              p.setSpec(null);
            });
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withNamespace("ns")
            .withName("p")
            .addToAnnotations(LeanStore.LAST_APPLIED, "{\"a copy\":1}")
            .addToAnnotations("kept", "yes")
            .withManagedFields(List.of(new ManagedFieldsEntry()))
            .endMetadata()
            .withNewSpec()
            .withNodeName("n")
            .endSpec()
            .build();
    String key = store.getKey(pod);
    assertThat(key).isEqualTo("ns/p");
    store.put(key, pod);
    Pod stored = store.get("ns/p");
    assertThat(stored.getMetadata().getManagedFields()).isNull();
    assertThat(stored.getMetadata().getAnnotations()).containsOnlyKeys("kept");
    assertThat(stored.getSpec()).isNull();
    assertThat(store.size()).isEqualTo(1);
    assertThat(store.remove("ns/p")).isSameAs(stored);
    assertThat(store.keySet()).isEmpty();
  }
}
