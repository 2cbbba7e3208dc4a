package sh.kaito.controller.manifests;

import io.fabric8.kubernetes.api.model.Volume;
import java.util.ArrayList;
import java.util.List;
import sh.kaito.api.v1beta1.AdapterSpec;
import sh.kaito.api.v1beta1.DataDestination;
import sh.kaito.api.v1beta1.Workspace;

/**
 * A LoRA adapter an inference pod loads from {@code /mnt/adapter/<name>}: from an image (pulled by
 * an init container) or a volume (mounted).
 */
public record ServedAdapter(
    String name, String image, Volume volume, List<String> pullSecrets, String strength) {

  public ServedAdapter {
    pullSecrets = pullSecrets == null ? List.of() : List.copyOf(pullSecrets);
    strength = strength == null ? AdapterSpec.DEFAULT_STRENGTH : strength;
  }

  /** {@code inference.adapters}, skipping entries without a name or source (never crashing). */
  public static List<ServedAdapter> of(List<AdapterSpec> adapters) {
    List<ServedAdapter> out = new ArrayList<>();
    for (AdapterSpec a : adapters) {
      if (a == null || a.source() == null || a.name() == null || a.name().isEmpty()) {
        continue;
      }
      boolean hasImage = a.source().image() != null && !a.source().image().isEmpty();
      if (!hasImage && a.source().volumeSource() == null) {
        continue;
      }
      out.add(
          new ServedAdapter(
              a.name(),
              hasImage ? a.source().image() : null,
              hasImage ? null : a.source().volumeSource(),
              a.source().imagePullSecrets(),
              a.strength()));
    }
    return out;
  }

  /**
   * The adapter a tuning workspace produced, named after the workspace: its output image (pulled
   * with the push secret) or its output volume.
   */
  public static List<ServedAdapter> fromTuningOutput(Workspace workspace) {
    DataDestination out = workspace.getTuning() == null ? null : workspace.getTuning().output();
    if (out == null) {
      return List.of();
    }
    String name = workspace.getMetadata().getName();
    if (out.image() != null && !out.image().isEmpty()) {
      List<String> secrets =
          out.imagePushSecret() == null || out.imagePushSecret().isEmpty()
              ? List.of()
              : List.of(out.imagePushSecret());
      return List.of(new ServedAdapter(name, out.image(), null, secrets, null));
    }
    if (out.volumeSource() != null) {
      return List.of(new ServedAdapter(name, null, out.volumeSource(), List.of(), null));
    }
    return List.of();
  }
}
