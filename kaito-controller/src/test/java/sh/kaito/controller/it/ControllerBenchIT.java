package sh.kaito.controller.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import sh.kaito.api.v1beta1.Workspace;
import sh.kaito.api.v1beta1.WorkspaceLabels;
import sh.kaito.controller.TestWorkspaces;
import sh.kaito.testsupport.ControlPlane;
import sh.kaito.testsupport.FakeNodes;
import sh.kaito.testsupport.TestNamespaces;
import sh.kaito.testsupport.WithControlPlane;

/**
 * bench/controller: N Workspaces applied at once against the controller in its own JVM
 * (bring-your-own nodes, one shared kwok GPU node, so the numbers are the controller's and not a
 * node provisioner's): time until every StatefulSet exists, workspaces/s, and the controller's peak
 * RSS (VmHWM). Runs only with {@code -Dkaito.bench=true} ({@code bench/controller/run.sh}).
 */
@WithControlPlane
class ControllerBenchIT {

  @Test
  void workspacesPerSecondAndPeakRss(KubernetesClient client, ControlPlane cp) throws Exception {
    assumeTrue(Boolean.getBoolean("kaito.bench"), "benchmark: run bench/controller/run.sh");
    int n = Integer.getInteger("kaito.bench.workspaces", 500);
    String ns = TestNamespaces.create(client, "bench");
    String label = "bench-" + ns;
    FakeNodes.create(client, FakeNodes.gpu("node-" + ns, 1).withTaint().withLabel("apps", label));

    Path log = Path.of("target", "bench-controller.log").toAbsolutePath();
    Files.deleteIfExists(log);
    Process controller =
        ControllerProcess.start(cp.kubeconfig(), log, "KAITO_NODE_PROVISIONER", "byo");
    try {
      ControllerHarness.await(
          "controller started",
          java.time.Duration.ofSeconds(60),
          () -> ControllerHarness.readQuietly(log),
          t -> t.contains("event=ControllerStarted"));
      long rssBefore = peakRssKib(controller.pid());
      double cpuBefore = cpuSeconds(controller.pid());

      // Count StatefulSets with a watch (an informer), not by listing: a LIST of hundreds of
      // StatefulSets every 100 ms costs the API server more than the controller's own writes.
      Set<String> workloads = ConcurrentHashMap.newKeySet();
      CountDownLatch allWorkloads = new CountDownLatch(n);
      SharedIndexInformer<StatefulSet> watch =
          client
              .apps()
              .statefulSets()
              .inNamespace(ns)
              .withLabel(WorkspaceLabels.WORKSPACE_NAME)
              .inform(
                  new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(StatefulSet s) {
                      if (workloads.add(s.getMetadata().getName())) {
                        allWorkloads.countDown();
                      }
                    }

                    @Override
                    public void onUpdate(StatefulSet before, StatefulSet after) {}

                    @Override
                    public void onDelete(StatefulSet s, boolean unknownFinalState) {}
                  });

      ExecutorService pool = Executors.newFixedThreadPool(16);
      long start = System.nanoTime();
      List<Future<?>> creates = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String name = "ws-" + i;
        creates.add(
            pool.submit(
                () ->
                    client
                        .resources(Workspace.class)
                        .inNamespace(ns)
                        .resource(workspace(ns, name, label))
                        .create()));
      }
      long peakRss = 0;
      for (Future<?> f : creates) {
        f.get();
        peakRss = Math.max(peakRss, peakRssKib(controller.pid()));
      }
      long applied = System.nanoTime();
      pool.shutdown();
      while (System.nanoTime() - start < TimeUnit.MINUTES.toNanos(10)
          && !allWorkloads.await(100, TimeUnit.MILLISECONDS)) {
        peakRss = Math.max(peakRss, peakRssKib(controller.pid()));
      }
      peakRss = Math.max(peakRss, peakRssKib(controller.pid()));
      double controllerCpu = cpuSeconds(controller.pid()) - cpuBefore;
      watch.close();
      int seen = workloads.size();
      long done = System.nanoTime();
      double seconds = (done - start) / 1e9;
      String result =
          String.format(
              Locale.ROOT,
              "workspaces=%d applied_s=%.1f apiserver_creates_per_s=%.1f all_workloads_s=%.1f"
                  + " workspaces_per_s=%.1f"
                  + " controller_peak_rss_mib=%.0f rss_after_start_mib=%.0f"
                  + " controller_cpu_ms_per_workspace=%.0f workers=%s load=%s%n",
              n,
              (applied - start) / 1e9,
              n / ((applied - start) / 1e9),
              seconds,
              n / seconds,
              peakRss / 1024.0,
              rssBefore / 1024.0,
              controllerCpu * 1000 / n,
              System.getProperty("kaito.bench.workers", "8"),
              loadAverage());
      System.out.print("BENCH " + result);
      Path out = Path.of("target", "bench-controller-result.txt");
      Files.writeString(out, result);
      assertThat(seen).as("StatefulSets created").isEqualTo(n);
    } finally {
      controller.destroy(); // SIGTERM first, so a flight recording (if asked for) is written
      if (!controller.waitFor(10, TimeUnit.SECONDS)) {
        controller.destroyForcibly();
        controller.waitFor(10, TimeUnit.SECONDS);
      }
      client.namespaces().withName(ns).delete();
    }
  }

  private static Workspace workspace(String ns, String name, String label) {
    return TestWorkspaces.phi3Inference(
        w -> {
          w.getMetadata().setName(name);
          w.getMetadata().setNamespace(ns);
          w.getMetadata().setUid(null);
          w.getMetadata().setGeneration(null);
          // Bring-your-own nodes: no instance type, the shared labelled node.
          w.setResource(
              w.getResource()
                  .withInstanceType(null)
                  .withLabelSelector(
                      new LabelSelectorBuilder().addToMatchLabels("apps", label).build()));
          return w;
        });
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
    try {
      for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (java.io.IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }
}
