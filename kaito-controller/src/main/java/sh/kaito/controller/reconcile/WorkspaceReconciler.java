package sh.kaito.controller.reconcile;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.ControllerRevisionBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.v1beta1.PresetSpec;
import sh.kaito.api.v1beta1.TuningProgress;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceAnnotations;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.api.v1beta1.WorkspaceStatus;
import sh.kaito.api.validation.TrainingConfigRules;
import sh.kaito.controller.ControllerOptions;
import sh.kaito.controller.manifests.InferenceWorkloads;
import sh.kaito.controller.manifests.Manifests;
import sh.kaito.controller.manifests.ServedAdapter;
import sh.kaito.controller.manifests.Services;
import sh.kaito.controller.manifests.TemplateWorkloads;
import sh.kaito.controller.manifests.TuningJobs;
import sh.kaito.controller.manifests.WorkloadInputs;
import sh.kaito.controller.progress.TuningProgressPoller;
import sh.kaito.controller.provision.ClusterView;
import sh.kaito.controller.provision.NodeProvisioner;
import sh.kaito.controller.provision.NodeReadiness;
import sh.kaito.controller.runtime.EventRecorder;
import sh.kaito.controller.status.Observed;
import sh.kaito.controller.status.StatusCalculator;
import sh.kaito.controller.tuning.TrainingConfigMaps;
import sh.kaito.presets.catalog.ModelPreset;
import sh.kaito.presets.catalog.PresetCatalog;
import sh.kaito.presets.catalog.PresetMatch;
import sh.kaito.presets.sizing.NodeEstimator;
import sh.kaito.presets.sku.GpuSku;
import sh.kaito.presets.sku.SkuTable;

/**
 * The Workspace reconcile, as a script of idempotent steps (contract §2.1): finalizer, revision,
 * target node count, nodes, Services, then the tuning Job or the inference StatefulSet (and, for a
 * tuning workspace whose job succeeded, the StatefulSet serving its adapter). Status is computed
 * from what was observed and written once, only if it changed. No step waits: a step that is not
 * done returns and the queue brings the workspace back on the next event or after a delay.
 */
public final class WorkspaceReconciler {
  private static final Logger log = LoggerFactory.getLogger(WorkspaceReconciler.class);

  /**
   * How soon a workspace whose training config is missing or unusable is looked at again
   * (ConfigMaps are not watched).
   */
  static final Duration MISSING_CONFIG_RETRY = Duration.ofSeconds(30);

  private final KubernetesClient client;
  private final ClusterView view;
  private final NodeProvisioner provisioner;
  private final PresetCatalog catalog;
  private final SkuTable skus;
  private final ControllerOptions options;
  private final EventRecorder events;
  private final Clock clock;
  private final KubernetesSerialization json;
  private final TuningProgressPoller progress;
  private final TrainingConfigMaps trainingConfigs;

  public WorkspaceReconciler(
      KubernetesClient client,
      ClusterView view,
      NodeProvisioner provisioner,
      PresetCatalog catalog,
      SkuTable skus,
      ControllerOptions options,
      EventRecorder events,
      Clock clock,
      TuningProgressPoller progress,
      TrainingConfigMaps trainingConfigs) {
    this.client = client;
    this.view = view;
    this.provisioner = provisioner;
    this.catalog = catalog;
    this.skus = skus;
    this.options = options;
    this.events = events;
    this.clock = clock;
    this.json = client.getKubernetesSerialization();
    this.progress = progress;
    this.trainingConfigs = trainingConfigs;
  }

  public Result reconcile(String namespace, String name) {
    Workspace ws = view.workspace(namespace, name);
    if (ws == null || ws.getMetadata().getDeletionTimestamp() != null || !ws.hasTuning()) {
      progress.untrack(namespace, name);
    }
    if (ws == null) {
      return Result.DONE;
    }
    if (ws.getMetadata().getDeletionTimestamp() != null) {
      return finalizeDeletion(ws);
    }

    String error = null;
    Result result = Result.DONE;
    NodeReadiness nodes = null;
    Integer target = null;
    try {
      String revision = ensureRevision(ws);
      ws = ensureMetadata(ws, revision);
      ModelPreset preset = runsTemplate(ws) ? null : preset(ws);
      checkResource(ws);
      target = targetNodeCount(ws, preset);
      provisioner.provision(ws, target, preset == null ? null : preset.disk().toQuantity());
      nodes = provisioner.readiness(ws, target);
      if (!nodes.ready()) {
        result = nodes.pollAgain() ? Result.after(options.requeueAfter()) : Result.DONE;
      } else {
        ensureService(Services.main(ws));
        ensureService(Services.headless(ws));
        WorkloadInputs in =
            new WorkloadInputs(
                ws,
                preset == null ? null : preset.name(),
                gpusPerNode(ws, preset),
                target,
                revision,
                provisioner.nodeSelector(ws),
                options);
        result =
            ws.hasTuning()
                ? ensureTuning(in, preset)
                : preset == null ? ensureTemplateInference(in) : ensureInference(in, preset);
      }
    } catch (UserError e) {
      error = e.getMessage();
      result = e.retryAfter() == null ? Result.DONE : Result.after(e.retryAfter());
      log.info("event=InvalidWorkspace workspace={}/{} reason=\"{}\"", namespace, name, error);
    } catch (KubernetesClientException e) {
      error = e.getCode() == 409 ? null : e.getMessage();
      result = Result.after(e.getCode() == 409 ? Duration.ofMillis(100) : Duration.ofSeconds(5));
      if (error != null) {
        log.warn(
            "event=ReconcileError workspace={}/{} code={} error=\"{}\"",
            namespace,
            name,
            e.getCode(),
            error);
      }
    }

    boolean serveAfterTuning = serveAfterTuning(ws);
    Observed observed =
        new Observed(
            ws,
            nodes,
            view.job(namespace, name),
            view.statefulSet(namespace, name),
            view.pods(namespace, name),
            serveAfterTuning,
            target,
            error,
            ws.hasTuning() ? trackProgress(namespace, name) : null);
    writeStatus(ws, StatusCalculator.compute(observed, clock));
    return result;
  }

  // ---- finalizer and deletion ----

  /**
   * The finalizer and the revision annotations in one patch (one write, one watch event), guarded
   * by the observed resourceVersion. NodeClaims are created only after this, so the finalizer is
   * always in place before anything that garbage collection cannot remove.
   */
  private Workspace ensureMetadata(Workspace ws, String revision) {
    List<String> finalizers =
        ws.getMetadata().getFinalizers() == null ? List.of() : ws.getMetadata().getFinalizers();
    Map<String, String> annotations = ws.annotations();
    String hash = Revisions.hash(ws, json);
    boolean finalizerMissing = !finalizers.contains(WorkspaceLabels.FINALIZER);
    boolean annotationsStale =
        !hash.equals(annotations.get(WorkspaceAnnotations.HASH))
            || !revision.equals(annotations.get(WorkspaceAnnotations.REVISION));
    if (!finalizerMissing && !annotationsStale) {
      return ws;
    }
    Map<String, Object> metadata = new LinkedHashMap<>();
    if (finalizerMissing) {
      List<String> next = new ArrayList<>(finalizers);
      next.add(WorkspaceLabels.FINALIZER);
      metadata.put("finalizers", next);
    }
    if (annotationsStale) {
      metadata.put(
          "annotations",
          Map.of(WorkspaceAnnotations.HASH, hash, WorkspaceAnnotations.REVISION, revision));
    }
    return patchMetadata(ws, metadata);
  }

  private Result finalizeDeletion(Workspace ws) {
    List<String> finalizers =
        ws.getMetadata().getFinalizers() == null ? List.of() : ws.getMetadata().getFinalizers();
    if (!finalizers.contains(WorkspaceLabels.FINALIZER)) {
      return Result.DONE;
    }
    int remaining = provisioner.release(ws);
    if (remaining > 0) {
      writeStatus(
          ws,
          StatusCalculator.deleting(
              ws,
              "workspace is being deleted, waiting for " + remaining + " NodeClaim(s) to go away",
              clock));
      return Result.after(options.requeueAfter());
    }
    List<String> next = new ArrayList<>(finalizers);
    next.remove(WorkspaceLabels.FINALIZER);
    try {
      patchMetadata(ws, Map.of("finalizers", next));
      log.info(
          "event=FinalizerRemoved workspace={}/{}",
          ws.getMetadata().getNamespace(),
          ws.getMetadata().getName());
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
    return Result.DONE;
  }

  /** A merge patch of metadata, guarded by the observed resourceVersion (409 on a race). */
  private Workspace patchMetadata(Workspace ws, Map<String, Object> metadata) {
    Map<String, Object> meta = new LinkedHashMap<>(metadata);
    meta.put("resourceVersion", ws.getMetadata().getResourceVersion());
    return client
        .resources(Workspace.class)
        .inNamespace(ws.getMetadata().getNamespace())
        .withName(ws.getMetadata().getName())
        .patch(PatchContext.of(PatchType.JSON_MERGE), json.asJson(Map.of("metadata", meta)));
  }

  // ---- revision ----

  /** Ensures the ControllerRevision of the current spec; returns its revision number. */
  String ensureRevision(Workspace ws) {
    String ns = ws.getMetadata().getNamespace();
    String name = ws.getMetadata().getName();
    String hash = Revisions.hash(ws, json);
    List<ControllerRevision> revisions = new ArrayList<>(view.revisions(ns, name));
    ControllerRevision current =
        revisions.stream()
            .filter(
                r ->
                    hash.equals(
                        annotation(r.getMetadata().getAnnotations(), WorkspaceAnnotations.HASH)))
            .findFirst()
            .orElse(null);
    long revision;
    if (current != null) {
      revision = current.getRevision();
    } else {
      long next = revisions.stream().mapToLong(ControllerRevision::getRevision).max().orElse(0) + 1;
      Map<String, Object> data = new LinkedHashMap<>();
      data.put("inference", ws.getInference());
      data.put("resource", ws.getResource());
      data.put("tuning", ws.getTuning());
      ControllerRevision cr =
          new ControllerRevisionBuilder()
              .withNewMetadata()
              .withName(Revisions.revisionName(ws, hash))
              .withNamespace(ns)
              .addToLabels(WorkspaceLabels.REVISION_WORKSPACE_NAME, name)
              .addToAnnotations(WorkspaceAnnotations.HASH, hash)
              .withOwnerReferences(Manifests.ownerReference(ws))
              .endMetadata()
              .withRevision(next)
              .withData(json.convertValue(data, Object.class))
              .build();
      try {
        client.apps().controllerRevisions().inNamespace(ns).resource(cr).create();
        revision = next;
        revisions.add(cr);
        log.info("event=RevisionCreated workspace={}/{} revision={}", ns, name, revision);
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
        ControllerRevision existing =
            client
                .apps()
                .controllerRevisions()
                .inNamespace(ns)
                .withName(cr.getMetadata().getName())
                .get();
        if (existing == null
            || !hash.equals(
                annotation(existing.getMetadata().getAnnotations(), WorkspaceAnnotations.HASH))) {
          throw new UserError("revision name conflicts, the hash values are different");
        }
        revision = existing.getRevision();
      }
      pruneRevisions(ns, revisions);
    }
    String rev = String.valueOf(revision);
    return rev;
  }

  private void pruneRevisions(String ns, List<ControllerRevision> revisions) {
    if (revisions.size() <= Revisions.MAX_HISTORY) {
      return;
    }
    revisions.sort(Comparator.comparingLong(ControllerRevision::getRevision));
    for (ControllerRevision old : revisions.subList(0, revisions.size() - Revisions.MAX_HISTORY)) {
      client
          .apps()
          .controllerRevisions()
          .inNamespace(ns)
          .withName(old.getMetadata().getName())
          .delete();
    }
  }

  private static String annotation(Map<String, String> annotations, String key) {
    return annotations == null ? null : annotations.get(key);
  }

  // ---- preset and sizing ----

  ModelPreset preset(Workspace ws) {
    PresetSpec spec =
        ws.hasTuning()
            ? ws.getTuning().preset()
            : ws.hasInference() ? ws.getInference().preset() : null;
    if (spec == null || spec.name() == null) {
      throw new UserError("Either Inference or Tuning must be specified, with a preset");
    }
    PresetMatch match = catalog.lookup(spec.name());
    if (!(match instanceof PresetMatch.Found found)) {
      throw new UserError(
          ws.hasTuning() && match instanceof PresetMatch.Unknown
              ? "Unsupported tuning preset name " + spec.name()
              : match.message());
    }
    if (ws.hasTuning() && !found.preset().supportsTuning()) {
      throw new UserError("preset " + spec.name() + " does not support tuning");
    }
    return found.preset();
  }

  /**
   * True for a workspace running its own pod template (no preset, no sizing, no weights); checked
   * before any node is asked for, so an unusable template costs no GPU node.
   */
  private static boolean runsTemplate(Workspace ws) {
    if (!TemplateWorkloads.isTemplate(ws)) {
      return false;
    }
    TemplateWorkloads.problem(ws)
        .ifPresent(
            problem -> {
              throw new UserError(problem);
            });
    return true;
  }

  /** What the API server's schema lets through but the controller cannot act on. */
  private void checkResource(Workspace ws) {
    if (ws.getResource() == null || ws.getResource().labelSelector() == null) {
      throw new UserError("resource.labelSelector is required");
    }
    String instanceType = ws.getResource().instanceType();
    if (options.nodeAutoProvisioning() && (instanceType == null || instanceType.isEmpty())) {
      throw new UserError("instanceType is required when node auto-provisioning is enabled");
    }
  }

  int targetNodeCount(Workspace ws, ModelPreset preset) {
    WorkspaceStatus status = ws.getStatus();
    if (status != null && status.targetNodeCount() != null && status.targetNodeCount() > 0) {
      return status.targetNodeCount();
    }
    if (ws.hasTuning()) {
      return 1;
    }
    int count = ws.getResource() == null ? 1 : ws.getResource().countOrDefault();
    boolean transformers =
        "transformers".equalsIgnoreCase(ws.annotations().get(WorkspaceAnnotations.RUNTIME));
    GpuSku sku = sku(ws);
    if (preset == null || transformers || sku == null) {
      return Math.max(1, count);
    }
    try {
      return NodeEstimator.estimate(preset, sku, 0).nodes();
    } catch (NodeEstimator.EstimateException e) {
      throw new UserError(e.getMessage());
    }
  }

  private GpuSku sku(Workspace ws) {
    String instanceType = ws.getResource() == null ? null : ws.getResource().instanceType();
    return instanceType == null ? null : skus.find(instanceType).orElse(null);
  }

  private int gpusPerNode(Workspace ws, ModelPreset preset) {
    GpuSku sku = sku(ws);
    if (sku != null) {
      return sku.gpuCount();
    }
    return preset == null ? 0 : Math.max(1, preset.inference().gpu().count());
  }

  static boolean serveAfterTuning(Workspace ws) {
    return ws.hasTuning()
        && !"false"
            .equals(
                ws.annotations()
                    .getOrDefault(WorkspaceAnnotations.SERVE_AFTER_TUNING, "true")
                    .toLowerCase(Locale.ROOT));
  }

  // ---- workloads ----

  private void ensureService(Service desired) {
    String ns = desired.getMetadata().getNamespace();
    if (view.service(ns, desired.getMetadata().getName()) != null) {
      return;
    }
    createIgnoringConflict(() -> client.services().inNamespace(ns).resource(desired).create());
  }

  /**
   * The tuning Job of the current revision, then (beyond upstream) the StatefulSet serving its
   * adapter. The serving pods hold the node's GPUs, which a Job needs too: the node is the Job's
   * (upstream's tuning workspace has one node and only the Job on it), so the serving workload
   * exists only while the current revision's Job has succeeded and serving is wanted. Otherwise it
   * is deleted first and a new Job is created only once it is gone, so the Job's pod never waits
   * Unschedulable behind it.
   */
  private Result ensureTuning(WorkloadInputs in, ModelPreset preset) {
    Job job = view.job(in.namespace(), in.name());
    boolean current =
        job != null
            && in.revision()
                .equals(
                    annotation(job.getMetadata().getAnnotations(), WorkspaceAnnotations.REVISION));
    boolean succeeded =
        current
            && job.getStatus() != null
            && job.getStatus().getSucceeded() != null
            && job.getStatus().getSucceeded() > 0;
    boolean serve = succeeded && serveAfterTuning(in.workspace());
    boolean servingGone = serve || stopServing(in, whyNotServing(in, job, current));
    if (job == null) {
      if (!servingGone) {
        return Result.after(options.requeueAfter()); // its deletion event comes first, usually
      }
      Job desired = TuningJobs.desired(in, ensureTrainingConfig(in.workspace()));
      createIgnoringConflict(
          () -> client.batch().v1().jobs().inNamespace(in.namespace()).resource(desired).create());
      log.info(
          "event=TuningJobCreated workspace={}/{} revision={}",
          in.namespace(),
          in.name(),
          in.revision());
      events.normal(in.workspace(), "TuningJobCreated", "created tuning Job " + in.name());
      return Result.DONE;
    }
    if (job.getMetadata().getDeletionTimestamp() != null) {
      return Result.after(options.requeueAfter());
    }
    if (!current) {
      deleteForeground(client.batch().v1().jobs().inNamespace(in.namespace()).withName(in.name()));
      log.info(
          "event=TuningJobReplaced workspace={}/{} revision={}",
          in.namespace(),
          in.name(),
          in.revision());
      events.normal(
          in.workspace(),
          "TuningJobReplaced",
          "the spec changed (revision " + in.revision() + "); replacing the tuning Job");
      return Result.after(options.requeueAfter());
    }
    if (serve) {
      ensureStatefulSet(in, ServedAdapter.fromTuningOutput(in.workspace()), preset);
    }
    return Result.DONE;
  }

  /**
   * Deletes the serving StatefulSet of a tuning workspace (foreground: it is gone only once its
   * pods are, and with them their claim on the node's GPUs). True when there is none left.
   */
  private boolean stopServing(WorkloadInputs in, String why) {
    StatefulSet serving = view.statefulSet(in.namespace(), in.name());
    if (serving == null) {
      return true;
    }
    if (serving.getMetadata().getDeletionTimestamp() == null) {
      deleteForeground(
          client.apps().statefulSets().inNamespace(in.namespace()).withName(in.name()));
      String message = "stopped serving the adapter: " + why;
      log.info(
          "event=ServingStopped workspace={}/{} revision={} reason=\"{}\"",
          in.namespace(),
          in.name(),
          in.revision(),
          message);
      events.normal(in.workspace(), "ServingStopped", message);
    }
    return false;
  }

  /** Gone only once its dependents (pods) are: what holds the node's GPUs is released first. */
  private static void deleteForeground(Resource<?> resource) {
    resource.withPropagationPolicy(DeletionPropagation.FOREGROUND).delete();
  }

  private static String whyNotServing(WorkloadInputs in, Job job, boolean current) {
    if (job != null && !current) {
      return "the spec changed (revision " + in.revision() + "), its tuning Job needs the node";
    }
    if (!serveAfterTuning(in.workspace())) {
      return WorkspaceAnnotations.SERVE_AFTER_TUNING + " is false";
    }
    return "the tuning Job of revision " + in.revision() + " has not succeeded and needs the node";
  }

  private Result ensureInference(WorkloadInputs in, ModelPreset preset) {
    ensureStatefulSet(
        in, ServedAdapter.of(in.workspace().getInference().adaptersOrEmpty()), preset);
    return Result.DONE;
  }

  private void ensureStatefulSet(
      WorkloadInputs in, List<ServedAdapter> adapters, ModelPreset preset) {
    StatefulSet desired = InferenceWorkloads.desired(in, adapters, preset.weights().bytes());
    StatefulSet current = view.statefulSet(in.namespace(), in.name());
    if (current == null) {
      createIgnoringConflict(
          () ->
              client.apps().statefulSets().inNamespace(in.namespace()).resource(desired).create());
      log.info(
          "event=StatefulSetCreated workspace={}/{} revision={}",
          in.namespace(),
          in.name(),
          in.revision());
      events.normal(
          in.workspace(), "StatefulSetCreated", "created inference StatefulSet " + in.name());
      return;
    }
    if (current.getMetadata().getDeletionTimestamp() != null
        || in.revision()
            .equals(
                annotation(
                    current.getMetadata().getAnnotations(), WorkspaceAnnotations.REVISION))) {
      return; // up to date, or on its way out (its deletion event brings the workspace back)
    }
    // Upstream replaces only what adapters and config change; so do we (args carry the adapters).
    // The cache keeps no pod template (ClusterView): the roll starts from the live object.
    StatefulSet next = liveStatefulSet(in);
    if (next == null) {
      return; // deleted meanwhile: its event brings the workspace back
    }
    PodSpec pod = next.getSpec().getTemplate().getSpec();
    PodSpec want = desired.getSpec().getTemplate().getSpec();
    pod.setInitContainers(want.getInitContainers());
    pod.setVolumes(want.getVolumes());
    Container main = pod.getContainers().get(0);
    Container wantMain = want.getContainers().get(0);
    main.setEnv(wantMain.getEnv());
    main.setVolumeMounts(wantMain.getVolumeMounts());
    main.setArgs(wantMain.getArgs());
    Map<String, String> annotations =
        new LinkedHashMap<>(
            Objects.requireNonNullElse(next.getMetadata().getAnnotations(), Map.of()));
    annotations.put(WorkspaceAnnotations.REVISION, in.revision());
    next.getMetadata().setAnnotations(annotations);
    client.apps().statefulSets().inNamespace(in.namespace()).resource(next).update();
    log.info(
        "event=StatefulSetUpdated workspace={}/{} revision={}",
        in.namespace(),
        in.name(),
        in.revision());
    events.normal(
        in.workspace(),
        "StatefulSetUpdated",
        "rolled the inference StatefulSet to revision " + in.revision());
  }

  /** The StatefulSet as the API server has it (the cached one has no pod template), or null. */
  private StatefulSet liveStatefulSet(WorkloadInputs in) {
    return client.apps().statefulSets().inNamespace(in.namespace()).withName(in.name()).get();
  }

  /**
   * The user's pod template as the StatefulSet: created, then on a new revision its pod template is
   * replaced (upstream creates it only). What the API server refuses in the template is the user's
   * to fix, so it becomes the status message rather than a retry loop.
   */
  private Result ensureTemplateInference(WorkloadInputs in) {
    StatefulSet desired = TemplateWorkloads.desired(in);
    StatefulSet current = view.statefulSet(in.namespace(), in.name());
    var statefulSets = client.apps().statefulSets().inNamespace(in.namespace());
    try {
      if (current == null) {
        createIgnoringConflict(() -> statefulSets.resource(desired).create());
      } else if (!in.revision()
          .equals(
              annotation(current.getMetadata().getAnnotations(), WorkspaceAnnotations.REVISION))) {
        StatefulSet live = liveStatefulSet(in);
        if (live == null) {
          return Result.DONE; // deleted meanwhile: its event brings the workspace back
        }
        statefulSets.resource(TemplateWorkloads.rolled(live, desired)).update();
      } else {
        return Result.DONE;
      }
    } catch (KubernetesClientException e) {
      if (e.getCode() == 422) {
        throw new UserError(
            "inference.template is not a valid StatefulSet pod template: "
                + (e.getStatus() != null && e.getStatus().getMessage() != null
                    ? e.getStatus().getMessage()
                    : e.getMessage()));
      }
      throw e;
    }
    String reason = current == null ? "StatefulSetCreated" : "StatefulSetUpdated";
    log.info(
        "event={} workspace={}/{} revision={} template=true",
        reason,
        in.namespace(),
        in.name(),
        in.revision());
    events.normal(
        in.workspace(),
        reason,
        (current == null ? "created" : "rolled")
            + " the StatefulSet of inference.template to revision "
            + in.revision());
    return Result.DONE;
  }

  private static void createIgnoringConflict(Runnable create) {
    try {
      create.run();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
    }
  }

  /**
   * The training config the Job mounts: the workspace's ConfigMap, or the method's default template
   * copied into the workspace's namespace when it is not there yet (upstream's {@code
   * EnsureConfigOrCopyFromDefault}), with its {@code output_dir} resolved under {@code /mnt}.
   */
  private TuningJobs.TrainingConfig ensureTrainingConfig(Workspace ws) {
    String ns = ws.getMetadata().getNamespace();
    TrainingConfigMaps.Found found =
        trainingConfigs
            .find(ns, ws.getTuning())
            .orElseThrow(
                () ->
                    new UserError(
                        "user specified ConfigMap "
                            + ws.getTuning().config()
                            + " not found in namespace "
                            + ns,
                        MISSING_CONFIG_RETRY));
    var outputDir = TrainingConfigRules.outputDir(found.name(), ns, found.data());
    if (outputDir instanceof TrainingConfigRules.OutputDir.Invalid invalid) {
      throw new UserError(
          "failed to get training output directory from config: " + invalid.message(),
          MISSING_CONFIG_RETRY);
    }
    if (!found.inWorkspaceNamespace()) {
      ConfigMap copy =
          new ConfigMapBuilder()
              .withNewMetadata()
              .withName(found.name())
              .withNamespace(ns)
              .endMetadata()
              .withData(found.data())
              .build();
      createIgnoringConflict(() -> client.configMaps().inNamespace(ns).resource(copy).create());
      log.info(
          "event=DefaultTrainingConfigCopied namespace={} configmap={} from={}",
          ns,
          found.name(),
          found.namespace().isEmpty() ? "built-in" : found.namespace());
    }
    return new TuningJobs.TrainingConfig(
        found.name(), ((TrainingConfigRules.OutputDir.Resolved) outputDir).path());
  }

  /**
   * Polls the tuning pod while the Job runs (off this thread) and returns the latest answer; stops
   * polling otherwise. Null means "nothing new": the status keeps the last numbers.
   */
  private TuningProgress trackProgress(String namespace, String name) {
    Job job = view.job(namespace, name);
    boolean active =
        job != null
            && job.getStatus() != null
            && job.getStatus().getActive() != null
            && job.getStatus().getActive() > 0;
    if (!active) {
      progress.untrack(namespace, name);
      return null;
    }
    progress.track(namespace, name);
    return progress.latest(namespace, name);
  }

  // ---- status ----

  private void writeStatus(Workspace ws, WorkspaceStatus next) {
    WorkspaceStatus previous = ws.getStatus() == null ? WorkspaceStatus.empty() : ws.getStatus();
    if (Conditions.sameMeaning(previous.conditions(), next.conditions())
        && Objects.equals(previous.state(), next.state())
        && Objects.equals(emptyToNull(previous.workerNodes()), emptyToNull(next.workerNodes()))
        && Objects.equals(previous.targetNodeCount(), next.targetNodeCount())
        && Objects.equals(previous.tuningProgress(), next.tuningProgress())) {
      return;
    }
    Map<String, Object> status = new LinkedHashMap<>();
    status.put("workerNodes", emptyToNull(next.workerNodes()));
    status.put("conditions", next.conditions());
    status.put("state", next.state());
    status.put("targetNodeCount", next.targetNodeCount());
    status.put("tuningProgress", next.tuningProgress());
    // JSON merge patch: explicit nulls clear fields, so the stored status equals the computed one.
    String patch = json.asJson(Map.of("status", new NullKeepingMap(status)));
    try {
      client
          .resources(Workspace.class)
          .inNamespace(ws.getMetadata().getNamespace())
          .withName(ws.getMetadata().getName())
          .subresource("status")
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }

  private static List<String> emptyToNull(List<String> l) {
    return l == null || l.isEmpty() ? null : l;
  }

  /** Serialized with its null values (fabric8's mapper drops nulls only in beans). */
  static final class NullKeepingMap extends LinkedHashMap<String, Object> {
    NullKeepingMap(Map<String, Object> m) {
      super(m);
    }
  }
}
