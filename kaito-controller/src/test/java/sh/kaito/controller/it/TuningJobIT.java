package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static sh.kaito.controller.it.ControllerHarness.await;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeConditionBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import sh.kaito.api.conditions.Conditions;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceConditions;
import sh.kaito.api.validation.TrainingConfigRules;
import sh.kaito.controller.ControllerOptions;
import sh.kaito.controller.TestWorkspaces;
import sh.kaito.controller.progress.HttpTuningProgressSource;
import sh.kaito.controller.runtime.WorkspaceController;
import sh.kaito.controller.tuning.TuningOptions;
import sh.kaito.testsupport.FakeNodes;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * The tuning Job against the real control plane, with the test as the kubelet: kwok would complete
 * a Job pod at once, so the node here is one kwok does not manage, and the test writes the pod's
 * status (Running, then Failed with a termination message) through the {@code pods/status}
 * subresource. The pod's {@code GET /progress} is a loopback server the progress source is pointed
 * at (pod IPs are data here, never dialled).
 */
@WithControlPlane
class TuningJobIT {
  static final Duration INTERVAL = Duration.ofSeconds(2);
  static final Duration TIMEOUT = Duration.ofSeconds(60);
  static final String POD_IP = "10.244.250.7";

  @Test
  void configMountedProgressShownAndAFailedTuneEndsTheJob(KubernetesClient client)
      throws Exception {
    String ns = TestNamespaces.create(client, "tuning");
    String nodeName = "tune-" + ns;
    AtomicReference<String> progress =
        new AtomicReference<>("{\"step\":7,\"total_steps\":100,\"loss\":1.25}");
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        HttpTuningProgressSource.PATH,
        e -> {
          byte[] body = progress.get().getBytes(StandardCharsets.UTF_8);
          e.sendResponseHeaders(200, body.length);
          try (OutputStream out = e.getResponseBody()) {
            out.write(body);
          }
        });
    server.start();
    String base = "http://127.0.0.1:" + server.getAddress().getPort();
    TuningOptions tuning =
        new TuningOptions(
            new HttpTuningProgressSource(Duration.ofSeconds(1), Clock.systemUTC(), pod -> base),
            INTERVAL,
            null);
    ControllerOptions byo = ControllerOptions.defaults().withWorkers(2).withNodeProvisioner("byo");
    client.nodes().resource(unmanagedGpuNode(nodeName, ns)).create();
    try (WorkspaceController controller =
        new WorkspaceController(client, byo, new SimpleMeterRegistry(), tuning)) {
      controller.start();
      client
          .configMaps()
          .inNamespace(ns)
          .resource(
              new ConfigMapBuilder()
                  .withNewMetadata()
                  .withName("run-config")
                  .endMetadata()
                  .addToData(
                      TrainingConfigRules.KEY,
                      "training_config:\n"
                          + "  QuantizationConfig: {load_in_4bit: false}\n"
                          + "  TrainingArguments: {output_dir: \"/mnt/out/run1\", max_steps: 100}\n")
                  .build())
          .create();
      create(client, workspace(ns, "tune-progress", "lora", "run-config"));
      create(client, workspace(ns, "tune-default", "qlora", null));

      // The named config is mounted and its output_dir is where training writes and the pusher
      // waits.
      PodSpec named = awaitJob(client, ns, "tune-progress").getSpec().getTemplate().getSpec();
      assertThat(configMapOf(named)).isEqualTo("run-config");
      Container tune = named.getContainers().get(0);
      assertThat(tune.getArgs())
          .containsSubsequence("--output", "/mnt/out/run1")
          .containsSubsequence("--config", "/mnt/config/training_config.yaml");
      assertThat(tune.getVolumeMounts())
          .extracting(m -> m.getName() + "=" + m.getMountPath())
          .contains("results-volume=/mnt/out/run1", "config-volume=/mnt/config");
      assertThat(named.getContainers().get(1).getArgs())
          .containsSubsequence("--wait-for", "/mnt/out/run1/fine_tuning_completed.txt");

      // No config: upstream's qlora template, copied into the workspace's namespace, mounted.
      PodSpec byDefault = awaitJob(client, ns, "tune-default").getSpec().getTemplate().getSpec();
      assertThat(configMapOf(byDefault)).isEqualTo("qlora-params-template");
      assertThat(byDefault.getContainers().get(0).getArgs())
          .containsSubsequence("--output", "/mnt/results");
      ConfigMap copied =
          client.configMaps().inNamespace(ns).withName("qlora-params-template").get();
      assertThat(copied.getData().get(TrainingConfigRules.KEY))
          .isEqualTo(
              TrainingConfigRules.defaultTemplate(TrainingConfigRules.DEFAULT_QLORA_TEMPLATE));

      // Progress: polled once the pod runs, then every interval; a new answer reaches the status
      // within one interval.
      Pod pod = awaitScheduledPod(client, ns, "tune-progress");
      patchStatus(client, pod, running(pod));
      await(
          "progress step 7 in the status",
          TIMEOUT,
          () -> ControllerHarness.workspace(client, ns, "tune-progress"),
          w -> Long.valueOf(7).equals(progressStep(w)));
      progress.set("{\"step\":8,\"total_steps\":100,\"loss\":1.125,\"eta_seconds\":92}");
      long changed = System.nanoTime();
      Workspace step8 =
          await(
              "progress step 8 in the status",
              TIMEOUT,
              () -> ControllerHarness.workspace(client, ns, "tune-progress"),
              w -> Long.valueOf(8).equals(progressStep(w)));
      Duration took = Duration.ofNanos(System.nanoTime() - changed);
      // One interval, plus up to 5 s for the queue, the status patch, the watch and this test's
      // 200 ms polling on a shared 2-core machine (load averages of 30 seen).
      assertThat(took).isLessThanOrEqualTo(INTERVAL.plusSeconds(5));
      assertThat(step8.getStatus().tuningProgress().loss()).isEqualTo("1.125");
      assertThat(step8.getStatus().tuningProgress().etaSeconds()).isEqualTo(92L);

      // tune fails on bad input: the Job fails at once (no retry pod) and the workspace says why.
      String said = "error: /mnt/data/train.jsonl row 3: unknown role 'bot'";
      long failedAt = System.nanoTime();
      patchStatus(client, pod, failed(pod, said));
      Job failedJob =
          await(
              "the Job failed",
              TIMEOUT,
              () -> client.batch().v1().jobs().inNamespace(ns).withName("tune-progress").get(),
              j ->
                  j.getStatus() != null
                      && j.getStatus().getConditions() != null
                      && j.getStatus().getConditions().stream()
                          .anyMatch(c -> "Failed".equals(c.getType())));
      Duration toFail = Duration.ofNanos(System.nanoTime() - failedAt);
      // Without the rule the Job would retry up to 6 times with backoffs of 10 s doubling (about
      // 10 minutes); the FailJob rule ends it at the job controller's next sync. 30 s leaves room
      // for a heavily loaded machine.
      assertThat(toFail).isLessThan(Duration.ofSeconds(30));
      assertThat(failedJob.getStatus().getConditions())
          .anyMatch(c -> "Failed".equals(c.getType()) && "PodFailurePolicy".equals(c.getReason()));
      assertThat(jobPods(client, ns, "tune-progress")).hasSize(1);
      Workspace failed =
          ControllerHarness.awaitMessage(
              client,
              ns,
              "tune-progress",
              WorkspaceConditions.WORKSPACE_SUCCEEDED,
              "tune-progress exited with code 1: " + said,
              TIMEOUT);
      assertThat(failed.getStatus().state()).isEqualTo("Failed");
      assertThat(
              Conditions.find(failed.getStatus().conditions(), WorkspaceConditions.JOB_STARTED)
                  .orElseThrow()
                  .getMessage())
          .isEqualTo("tuning job failed: tune-progress exited with code 1: " + said);
      // The last numbers stay after the job ended.
      assertThat(progressStep(failed)).isEqualTo(8L);
    } finally {
      server.stop(0);
      client.nodes().withName(nodeName).delete();
    }
  }

  /**
   * A Ready GPU node that kwok does not manage (no {@code kwok.x-k8s.io/node} annotation): pods
   * bound to it keep the status the test writes.
   */
  static Node unmanagedGpuNode(String name, String label) {
    Node node = FakeNodes.gpu(name, 2).withLabel("tuning-it", label).toNode();
    node.getMetadata().getAnnotations().remove(FakeNodes.KWOK_ANNOTATION);
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    node.getStatus()
        .setConditions(
            List.of(
                new NodeConditionBuilder()
                    .withType("Ready")
                    .withStatus("True")
                    .withReason("KubeletReady")
                    .withLastHeartbeatTime(now)
                    .withLastTransitionTime(now)
                    .build()));
    return node;
  }

  /** Bring-your-own nodes: no instance type, the test's node selected by its label. */
  static Workspace workspace(String ns, String name, String method, String config) {
    Workspace w = TestWorkspaces.toCreate(TestWorkspaces.tuning(method, config), ns, name);
    w.setResource(
        w.getResource()
            .withInstanceType(null)
            .withLabelSelector(
                new LabelSelectorBuilder().addToMatchLabels("tuning-it", ns).build()));
    return w;
  }

  static void create(KubernetesClient client, Workspace ws) {
    client
        .resources(Workspace.class)
        .inNamespace(ws.getMetadata().getNamespace())
        .resource(ws)
        .create();
  }

  static Job awaitJob(KubernetesClient client, String ns, String name) throws InterruptedException {
    return await(
        "the Job " + name,
        TIMEOUT,
        () -> client.batch().v1().jobs().inNamespace(ns).withName(name).get(),
        j -> true);
  }

  static String configMapOf(PodSpec pod) {
    return pod.getVolumes().stream()
        .filter(v -> v.getName().equals("config-volume"))
        .map(Volume::getConfigMap)
        .findFirst()
        .orElseThrow()
        .getName();
  }

  static List<Pod> jobPods(KubernetesClient client, String ns, String job) {
    return client
        .pods()
        .inNamespace(ns)
        .withLabel("batch.kubernetes.io/job-name", job)
        .list()
        .getItems();
  }

  static Pod awaitScheduledPod(KubernetesClient client, String ns, String job)
      throws InterruptedException {
    return await(
            "the Job's pod bound to the node",
            TIMEOUT,
            () -> jobPods(client, ns, job),
            l -> l.size() == 1 && l.get(0).getSpec().getNodeName() != null)
        .get(0);
  }

  static Long progressStep(Workspace w) {
    return w.getStatus() == null || w.getStatus().tuningProgress() == null
        ? null
        : w.getStatus().tuningProgress().step();
  }

  /** What a kubelet reports for a pod whose containers all run. */
  static Map<String, Object> running(Pod pod) {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    return Map.of(
        "phase",
        "Running",
        "podIP",
        POD_IP,
        "podIPs",
        List.of(Map.of("ip", POD_IP)),
        "startTime",
        now,
        "conditions",
        conditions("True", now),
        "containerStatuses",
        pod.getSpec().getContainers().stream()
            .map(c -> containerStatus(c, true, Map.of("running", Map.of("startedAt", now))))
            .toList());
  }

  /** {@code tune} exited 1 with a termination message; the pusher gave up waiting for it. */
  static Map<String, Object> failed(Pod pod, String message) {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    String tune = pod.getSpec().getContainers().get(0).getName();
    return Map.of(
        "phase",
        "Failed",
        "conditions",
        conditions("False", now),
        "containerStatuses",
        pod.getSpec().getContainers().stream()
            .map(
                c ->
                    containerStatus(
                        c,
                        false,
                        Map.of(
                            "terminated",
                            Map.of(
                                "exitCode",
                                1,
                                "reason",
                                "Error",
                                "message",
                                c.getName().equals(tune)
                                    ? message
                                    : "error: tune ended without fine_tuning_completed.txt",
                                "startedAt",
                                now,
                                "finishedAt",
                                now))))
            .toList());
  }

  static List<Map<String, String>> conditions(String ready, String now) {
    return List.of(
        Map.of("type", "PodScheduled", "status", "True", "lastTransitionTime", now),
        Map.of("type", "Ready", "status", ready, "lastTransitionTime", now));
  }

  static Map<String, Object> containerStatus(Container c, boolean running, Object state) {
    return Map.of(
        "name",
        c.getName(),
        "image",
        c.getImage(),
        "imageID",
        "",
        "ready",
        running,
        "restartCount",
        0,
        "started",
        running,
        "state",
        state);
  }

  static void patchStatus(KubernetesClient client, Pod pod, Map<String, Object> status) {
    client
        .pods()
        .inNamespace(pod.getMetadata().getNamespace())
        .withName(pod.getMetadata().getName())
        .subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            client.getKubernetesSerialization().asJson(Map.of("status", status)));
  }
}
