package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.FakeNodes;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * bench/controller: N Workspaces applied at once against the controller in its own JVM (the
 * deployment's JVM flags; bring-your-own nodes, one shared kwok GPU node, so the numbers are the
 * controller's and not a node provisioner's): time until every StatefulSet exists, workspaces/s,
 * the controller's peak RSS (VmHWM) and CPU per workspace.
 *
 * <p>The peer, measured in the same run on the same control plane with the controller stopped: a
 * plain client that applies the same N Workspaces and itself writes, for each, exactly the objects
 * the controller wrote (its ControllerRevision, finalizer and annotations, both Services, the
 * StatefulSet, its Event and its status), copied from the controller's namespace. That is the
 * fastest this API server can take this work; {@code vs_direct} is the controller's share of it.
 * Runs only with {@code -Dkaito.bench=true} ({@code bench/controller/run.sh}).
 */
@WithControlPlane
class ControllerBenchIT {
  private static final int CLIENT_THREADS = 16;
  private static final KubernetesSerialization JSON = new KubernetesSerialization();

  @Test
  void workspacesPerSecondAndPeakRss(KubernetesClient client, ControlPlane cp) throws Exception {
    assumeTrue(Boolean.getBoolean("kaito.bench"), "benchmark: run bench/controller/run.sh");
    int n = Integer.getInteger("kaito.bench.workspaces", 500);
    String ns = TestNamespaces.create(client, "bench");
    String direct = TestNamespaces.create(client, "direct");
    String label = "bench-" + ns;
    FakeNodes.create(client, FakeNodes.gpu("node-" + ns, 1).withTaint().withLabel("apps", label));

    Path log = Path.of("target", "bench-controller.log").toAbsolutePath();
    Files.deleteIfExists(log);
    Process controller =
        ControllerProcess.start(cp.kubeconfig(), log, "KAITO_NODE_PROVISIONER", "byo");
    try {
      ControllerHarness.awaitControllerStarted(log);
      long rssBefore = peakRssKib(controller.pid());
      long heapBefore =
          liveHeapBytes(controller.pid(), Path.of("target", "bench-controller-heap-start.txt"));
      double cpuBefore = cpuSeconds(controller.pid());
      Map<String, Double> planeBefore = controlPlaneCpu(cp);

      Phase withController =
          Phase.run(client, ns, n, label, ws -> {}, () -> peakRssKib(controller.pid()));
      double controllerCpu = cpuSeconds(controller.pid()) - cpuBefore;
      Map<String, Double> planeCpu = minus(controlPlaneCpu(cp), planeBefore);
      // The live heap (a full GC first) with every workspace, its objects and its pod cached.
      long heapAfter =
          liveHeapBytes(controller.pid(), Path.of("target", "bench-controller-heap.txt"));
      long rssAfter = currentRssKib(controller.pid());
      if (System.getProperty("kaito.controller.jvmArgs", "").contains("NativeMemoryTracking")) {
        // Where the resident memory outside the heap goes (metaspace, code, threads, GC, ...).
        jcmd(controller.pid(), Path.of("target", "bench-controller-nmt.txt"), "VM.native_memory");
      }
      // A status is written right after its StatefulSet: let the last ones land before copying.
      ControllerHarness.await(
          "every workspace has a status",
          java.time.Duration.ofSeconds(60),
          () -> client.resources(Workspace.class).inNamespace(ns).list().getItems(),
          l -> l.stream().allMatch(w -> w.getStatus() != null));
      stop(controller);

      // The peer: the same writes, made directly, with the controller stopped.
      Map<String, Written> written = writtenByController(client, ns);
      Map<String, Double> directBefore = controlPlaneCpu(cp);
      Phase directWrites =
          Phase.run(client, direct, n, label, ws -> writeDirectly(client, ws, written), () -> 0L);
      Map<String, Double> directPlaneCpu = minus(controlPlaneCpu(cp), directBefore);

      String result =
          String.format(
              Locale.ROOT,
              "workspaces=%d applied_s=%.1f all_workloads_s=%.1f workspaces_per_s=%.1f"
                  + " direct_writes_per_s=%.1f vs_direct=%.2f"
                  + " controller_peak_rss_mib=%.0f rss_after_start_mib=%.0f rss_at_end_mib=%.0f"
                  + " live_heap_after_start_mib=%.1f live_heap_at_end_mib=%.1f"
                  + " heap_bytes_per_workspace=%.0f"
                  + " controller_cpu_ms_per_workspace=%.0f"
                  + " apiserver_etcd_cpu_ms_per_workspace=%.0f(direct %.0f)"
                  + " kcm_scheduler_cpu_ms_per_workspace=%.0f workers=%s load=%s%n",
              n,
              withController.appliedSeconds(),
              withController.allWorkloadsSeconds(),
              withController.workspacesPerSecond(),
              directWrites.workspacesPerSecond(),
              withController.workspacesPerSecond() / directWrites.workspacesPerSecond(),
              withController.peakRssKib() / 1024.0,
              rssBefore / 1024.0,
              rssAfter / 1024.0,
              heapBefore / 1048576.0,
              heapAfter / 1048576.0,
              (heapAfter - heapBefore) / (double) n,
              controllerCpu * 1000 / n,
              sum(planeCpu, "kube-apiserver", "etcd") * 1000 / n,
              sum(directPlaneCpu, "kube-apiserver", "etcd") * 1000 / n,
              sum(planeCpu, "kube-controller-manager", "kube-scheduler") * 1000 / n,
              System.getProperty("kaito.bench.workers", "8"),
              loadAverage());
      System.out.print("BENCH " + result);
      Files.writeString(Path.of("target", "bench-controller-result.txt"), result);
      assertThat(withController.workloads()).as("StatefulSets made by the controller").isEqualTo(n);
      assertThat(directWrites.workloads()).as("StatefulSets written directly").isEqualTo(n);
    } finally {
      stop(controller);
      client.namespaces().withName(ns).delete();
      client.namespaces().withName(direct).delete();
    }
  }

  /** N workspaces created with 16 client threads; then the wait until all StatefulSets exist. */
  private record Phase(
      double appliedSeconds, double allWorkloadsSeconds, int workloads, long peakRssKib, int n) {

    double workspacesPerSecond() {
      return n / allWorkloadsSeconds;
    }

    static Phase run(
        KubernetesClient client,
        String ns,
        int n,
        String label,
        Consumer<Workspace> afterCreate,
        java.util.function.LongSupplier rss)
        throws Exception {
      // Count StatefulSets with a watch (an informer), not by listing: a LIST of hundreds of
      // StatefulSets every 100 ms costs the API server more than the controller's own writes.
      Set<String> workloads = ConcurrentHashMap.newKeySet();
      CountDownLatch all = new CountDownLatch(n);
      SharedIndexInformer<StatefulSet> watch =
          client
              .apps()
              .statefulSets()
              .inNamespace(ns)
              .inform(
                  new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(StatefulSet s) {
                      if (workloads.add(s.getMetadata().getName())) {
                        all.countDown();
                      }
                    }

                    @Override
                    public void onUpdate(StatefulSet before, StatefulSet after) {}

                    @Override
                    public void onDelete(StatefulSet s, boolean unknownFinalState) {}
                  });
      ExecutorService pool = Executors.newFixedThreadPool(CLIENT_THREADS);
      long start = System.nanoTime();
      List<Future<?>> creates = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String name = "ws-" + i;
        creates.add(
            pool.submit(
                () -> {
                  Workspace created =
                      client
                          .resources(Workspace.class)
                          .inNamespace(ns)
                          .resource(workspace(ns, name, label))
                          .create();
                  afterCreate.accept(created);
                }));
      }
      long peakRss = 0;
      for (Future<?> f : creates) {
        f.get();
        peakRss = Math.max(peakRss, rss.getAsLong());
      }
      long applied = System.nanoTime();
      pool.shutdown();
      // 10 minutes, and 200 ms more per workspace for the large runs (5,000: 27 minutes).
      long limit = TimeUnit.MINUTES.toNanos(10) + TimeUnit.MILLISECONDS.toNanos(200L * n);
      while (System.nanoTime() - start < limit && !all.await(100, TimeUnit.MILLISECONDS)) {
        peakRss = Math.max(peakRss, rss.getAsLong());
      }
      long done = System.nanoTime();
      peakRss = Math.max(peakRss, rss.getAsLong());
      watch.close();
      return new Phase((applied - start) / 1e9, (done - start) / 1e9, workloads.size(), peakRss, n);
    }
  }

  /** What the controller wrote for one workspace, keyed by the workspace's name. */
  private record Written(
      Workspace workspace,
      List<ControllerRevision> revisions,
      List<Service> services,
      StatefulSet statefulSet,
      List<Event> events) {}

  private static Map<String, Written> writtenByController(KubernetesClient client, String ns) {
    Map<String, List<ControllerRevision>> revisions =
        client.apps().controllerRevisions().inNamespace(ns).list().getItems().stream()
            .collect(Collectors.groupingBy(ControllerBenchIT::ownerName));
    Map<String, List<Service>> services =
        client.services().inNamespace(ns).list().getItems().stream()
            .collect(Collectors.groupingBy(ControllerBenchIT::ownerName));
    Map<String, StatefulSet> statefulSets =
        client.apps().statefulSets().inNamespace(ns).list().getItems().stream()
            .collect(Collectors.toMap(ControllerBenchIT::ownerName, s -> s));
    Map<String, List<Event>> events =
        client.v1().events().inNamespace(ns).list().getItems().stream()
            .filter(e -> "Workspace".equals(e.getInvolvedObject().getKind()))
            .collect(Collectors.groupingBy(e -> e.getInvolvedObject().getName()));
    Map<String, Written> written = new LinkedHashMap<>();
    for (Workspace ws : client.resources(Workspace.class).inNamespace(ns).list().getItems()) {
      String name = ws.getMetadata().getName();
      written.put(
          name,
          new Written(
              ws,
              revisions.getOrDefault(name, List.of()),
              services.getOrDefault(name, List.of()),
              statefulSets.get(name),
              events.getOrDefault(name, List.of())));
    }
    return written;
  }

  private static String ownerName(HasMetadata o) {
    List<OwnerReference> owners = o.getMetadata().getOwnerReferences();
    return owners == null || owners.isEmpty() ? "" : owners.get(0).getName();
  }

  /** The controller's writes for one workspace, in the controller's order, as a plain client. */
  private static void writeDirectly(
      KubernetesClient client, Workspace created, Map<String, Written> written) {
    String ns = created.getMetadata().getNamespace();
    Written w = written.get(created.getMetadata().getName());
    if (w == null || w.statefulSet() == null) {
      throw new IllegalStateException("the controller wrote nothing for " + created);
    }
    for (ControllerRevision r : w.revisions()) {
      client.apps().controllerRevisions().inNamespace(ns).resource(copy(r, created)).create();
    }
    Map<String, Object> metadata = new LinkedHashMap<>();
    metadata.put("finalizers", w.workspace().getMetadata().getFinalizers());
    metadata.put("annotations", w.workspace().getMetadata().getAnnotations());
    metadata.put("resourceVersion", created.getMetadata().getResourceVersion());
    Workspace patched =
        client
            .resources(Workspace.class)
            .inNamespace(ns)
            .withName(created.getMetadata().getName())
            .patch(
                PatchContext.of(PatchType.JSON_MERGE),
                client.getKubernetesSerialization().asJson(Map.of("metadata", metadata)));
    for (Service s : w.services()) {
      Service c = copy(s, created);
      if (!"None".equals(c.getSpec().getClusterIP())) { // the API server allocates a new one
        c.getSpec().setClusterIP(null);
        c.getSpec().setClusterIPs(null);
      }
      client.services().inNamespace(ns).resource(c).create();
    }
    StatefulSet sts = copy(w.statefulSet(), created);
    sts.setStatus(null);
    client.apps().statefulSets().inNamespace(ns).resource(sts).create();
    for (Event e : w.events()) {
      Event c = copy(e, created);
      c.getInvolvedObject().setNamespace(ns);
      c.getInvolvedObject().setUid(created.getMetadata().getUid());
      c.getInvolvedObject().setResourceVersion(null);
      client.v1().events().inNamespace(ns).resource(c).create();
    }
    client
        .resources(Workspace.class)
        .inNamespace(ns)
        .withName(patched.getMetadata().getName())
        .subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            client
                .getKubernetesSerialization()
                .asJson(Map.of("status", w.workspace().getStatus())));
  }

  /** A copy of a written object for another namespace, owned by {@code owner}. */
  private static <T extends HasMetadata> T copy(T o, Workspace owner) {
    T c = JSON.clone(o);
    ObjectMeta m = c.getMetadata();
    m.setNamespace(owner.getMetadata().getNamespace());
    m.setUid(null);
    m.setResourceVersion(null);
    m.setCreationTimestamp(null);
    m.setManagedFields(null);
    m.setGeneration(null);
    if (m.getOwnerReferences() != null) {
      m.getOwnerReferences().forEach(r -> r.setUid(owner.getMetadata().getUid()));
    }
    return c;
  }

  private static void stop(Process controller) throws InterruptedException {
    controller.destroy(); // SIGTERM first, so a flight recording (if asked for) is written
    if (!controller.waitFor(10, TimeUnit.SECONDS)) {
      controller.destroyForcibly();
      controller.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static Workspace workspace(String ns, String name, String label) {
    // Bring-your-own nodes: no instance type, the shared labelled node.
    return ControllerHarness.phi3(
        ns, name, label, w -> w.setResource(w.getResource().withInstanceType(null)));
  }

  /** CPU seconds so far of each control-plane process this test's control plane started. */
  private static Map<String, Double> controlPlaneCpu(ControlPlane cp) {
    Map<String, Double> cpu = new LinkedHashMap<>();
    cp.pids().forEach((name, pid) -> cpu.put(name, cpuSeconds(pid)));
    return cpu;
  }

  private static Map<String, Double> minus(Map<String, Double> after, Map<String, Double> before) {
    Map<String, Double> d = new LinkedHashMap<>();
    after.forEach((k, v) -> d.put(k, v - before.getOrDefault(k, 0.0)));
    return d;
  }

  private static double sum(Map<String, Double> cpu, String... names) {
    double s = 0;
    for (String name : names) {
      s += cpu.getOrDefault(name, 0.0);
    }
    return s;
  }

  /** User + system CPU time of a process, in seconds (0 if unreadable). */
  static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
      // Fields after the command (which may hold spaces) start after the last ')'.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // utime, stime in ticks
    } catch (java.io.IOException | RuntimeException e) {
      return 0;
    }
  }

  /** The 1-minute load average: how busy the machine was while the bench ran. */
  static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (java.io.IOException e) {
      return "?";
    }
  }

  /** VmHWM: the peak resident set of a process, in KiB (0 if unreadable). */
  static long peakRssKib(long pid) {
    return procStatusKib(pid, "VmHWM:");
  }

  /** VmRSS: the resident set of a process now, in KiB (0 if unreadable). */
  static long currentRssKib(long pid) {
    return procStatusKib(pid, "VmRSS:");
  }

  private static long procStatusKib(long pid, String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
        if (line.startsWith(field)) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (java.io.IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }

  /**
   * The live heap of a JVM in bytes: {@code jcmd PID GC.class_histogram} runs a full GC and counts
   * what survives (its "Total" line). The histogram's top 400 classes are written to {@code save}.
   */
  static long liveHeapBytes(long pid, Path save) throws Exception {
    String out = jcmd(pid, save, "GC.class_histogram");
    for (String line : out.lines().toList()) {
      if (line.startsWith("Total")) {
        String[] f = line.trim().split("\\s+");
        return Long.parseLong(f[f.length - 1]);
      }
    }
    throw new IllegalStateException("no Total line in the heap histogram: " + out);
  }

  /**
   * {@code jcmd PID COMMAND}: its output, whose first 400 lines are also written to {@code save}.
   */
  private static String jcmd(long pid, Path save, String command) throws Exception {
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    Process p =
        new ProcessBuilder(jcmd, String.valueOf(pid), command).redirectErrorStream(true).start();
    String out =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("jcmd " + command + " failed: " + out);
    }
    Files.writeString(save, out.lines().limit(400).collect(Collectors.joining("\n", "", "\n")));
    return out;
  }
}
