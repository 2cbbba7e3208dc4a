package sh.kaito.controller.manifests;

import static sh.kaito.controller.manifests.Manifests.*;

import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.NodeAffinity;
import io.fabric8.kubernetes.api.model.NodeAffinityBuilder;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.NodeSelectorTermBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import sh.kaito.api.v1beta1.InferenceSpec;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceAnnotations;

/**
 * The StatefulSet of a workspace that runs the user's own pod template ({@code inference.template},
 * contract §2.8 step 2) instead of a preset: the template as written, plus what puts its pods on
 * the workspace's GPU nodes.
 *
 * <p>Where we differ from upstream: upstream replaces the template's whole {@code affinity}; we
 * keep the user's pod (anti-)affinity and preferred node terms, and add the workspace's node
 * requirements to each of the user's required node terms (so the pods still never leave the
 * workspace's nodes). Default tolerations the template already has are not added twice. And a new
 * revision replaces the pod template ({@link #rolled}); upstream never updates it.
 */
public final class TemplateWorkloads {
  private TemplateWorkloads() {}

  /** True when the workspace serves its own pod template rather than a preset. */
  public static boolean isTemplate(Workspace ws) {
    return !ws.hasTuning() && ws.hasInference() && ws.getInference().template() != null;
  }

  /**
   * Why the template cannot be run, in words a user can act on; empty when it can. The API server
   * checks the rest of the pod spec when the StatefulSet is written.
   */
  public static Optional<String> problem(Workspace ws) {
    InferenceSpec inference = ws.getInference();
    if (inference.preset() != null) {
      return Optional.of("Preset and Template cannot be set at the same time");
    }
    PodSpec spec = inference.template().getSpec();
    if (spec == null || spec.getContainers() == null || spec.getContainers().isEmpty()) {
      return Optional.of("inference.template.spec.containers must list at least one container");
    }
    String restart = spec.getRestartPolicy();
    if (restart != null && !restart.isEmpty() && !"Always".equals(restart)) {
      return Optional.of(
          "inference.template.spec.restartPolicy is "
              + restart
              + "; a StatefulSet's pods must restart, so leave it unset or set it to Always");
    }
    if (!inference.adaptersOrEmpty().isEmpty()
        || (inference.config() != null && !inference.config().isEmpty())) {
      return Optional.of(
          "inference.adapters and inference.config apply to presets only; with"
              + " inference.template, configure your containers directly");
    }
    return Optional.empty();
  }

  /**
   * {@code <ws>} with {@code in.replicas()} pods of the user's template, one per node. For a
   * workspace whose {@link #problem} is empty.
   */
  public static StatefulSet desired(WorkloadInputs in) {
    Workspace ws = in.workspace();
    // A copy: the builders copy nested objects, and below only new collections are set on it.
    PodTemplateSpec template = new PodTemplateSpecBuilder(ws.getInference().template()).build();
    ObjectMeta meta = template.getMetadata() == null ? new ObjectMeta() : template.getMetadata();
    Map<String, String> labels = new LinkedHashMap<>();
    if (meta.getLabels() != null) {
      labels.putAll(meta.getLabels());
    }
    labels.putAll(workspaceLabels(ws));
    template.setMetadata(new ObjectMetaBuilder(meta).withLabels(labels).build());
    PodSpec spec = template.getSpec();
    spec.setTolerations(withGpuTolerations(spec.getTolerations()));
    spec.setAffinity(onWorkspaceNodes(spec.getAffinity(), nodeRequirements(in)));

    return new StatefulSetBuilder()
        .withMetadata(workloadMetadata(in))
        .withNewSpec()
        .withReplicas(in.replicas())
        .withPodManagementPolicy("Parallel")
        .withServiceName(Services.headlessName(ws))
        .withNewSelector()
        .withMatchLabels(workspaceLabels(ws))
        .endSelector()
        .withTemplate(template)
        .endSpec()
        .build();
  }

  /**
   * {@code current} with the pod template and revision of {@code desired}: a rolling update of the
   * pods. Replicas, selector and the rest of the spec stay as they are.
   */
  public static StatefulSet rolled(StatefulSet current, StatefulSet desired) {
    StatefulSet next = new StatefulSetBuilder(current).build();
    next.getSpec().setTemplate(desired.getSpec().getTemplate());
    Map<String, String> annotations = new LinkedHashMap<>();
    if (current.getMetadata().getAnnotations() != null) {
      annotations.putAll(current.getMetadata().getAnnotations());
    }
    annotations.put(
        WorkspaceAnnotations.REVISION,
        desired.getMetadata().getAnnotations().get(WorkspaceAnnotations.REVISION));
    next.getMetadata().setAnnotations(annotations);
    return next;
  }

  private static List<Toleration> withGpuTolerations(List<Toleration> user) {
    List<Toleration> all = new ArrayList<>(user == null ? List.of() : user);
    for (Toleration t : gpuTolerations()) {
      if (!all.contains(t)) {
        all.add(t);
      }
    }
    return all;
  }

  /**
   * The user's affinity with {@code ours} added to every required node term (terms are ORed, the
   * expressions in one term ANDed), or one term of {@code ours} when the user has none.
   */
  static Affinity onWorkspaceNodes(Affinity user, List<NodeSelectorRequirement> ours) {
    if (ours.isEmpty()) {
      return user; // An empty term would match no node; the API server refuses it.
    }
    NodeAffinity nodeAffinity =
        user == null || user.getNodeAffinity() == null
            ? new NodeAffinity()
            : new NodeAffinityBuilder(user.getNodeAffinity()).build();
    List<NodeSelectorTerm> userTerms =
        nodeAffinity.getRequiredDuringSchedulingIgnoredDuringExecution() == null
                || nodeAffinity
                        .getRequiredDuringSchedulingIgnoredDuringExecution()
                        .getNodeSelectorTerms()
                    == null
            ? List.of()
            : nodeAffinity
                .getRequiredDuringSchedulingIgnoredDuringExecution()
                .getNodeSelectorTerms();
    List<NodeSelectorTerm> terms = new ArrayList<>();
    if (userTerms.isEmpty()) {
      terms.add(new NodeSelectorTermBuilder().withMatchExpressions(ours).build());
    }
    for (NodeSelectorTerm term : userTerms) {
      List<NodeSelectorRequirement> expressions = new ArrayList<>();
      if (term.getMatchExpressions() != null) {
        expressions.addAll(term.getMatchExpressions());
      }
      expressions.addAll(ours);
      terms.add(new NodeSelectorTermBuilder(term).withMatchExpressions(expressions).build());
    }
    NodeAffinity merged =
        new NodeAffinityBuilder(nodeAffinity)
            .withNewRequiredDuringSchedulingIgnoredDuringExecution()
            .withNodeSelectorTerms(terms)
            .endRequiredDuringSchedulingIgnoredDuringExecution()
            .build();
    return (user == null ? new AffinityBuilder() : new AffinityBuilder(user))
        .withNodeAffinity(merged)
        .build();
  }
}
