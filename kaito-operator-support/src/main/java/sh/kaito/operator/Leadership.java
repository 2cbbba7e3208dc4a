package sh.kaito.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leader election through a coordination.k8s.io Lease (15 s lease, 10 s renew deadline, 2 s retry,
 * as controller-runtime's defaults): only the holder runs its controller. Losing the Lease ends the
 * process, so that two controllers never act at once; the kubelet starts it again as a follower.
 */
public final class Leadership {
  private static final Logger log = LoggerFactory.getLogger(Leadership.class);

  private Leadership() {}

  /**
   * Campaigns for {@code namespace/leaseName} and runs {@code onLeading} once elected; blocks for
   * as long as this process leads (it exits with status 1 when the Lease is lost).
   */
  public static void run(
      KubernetesClient client, String namespace, String leaseName, Runnable onLeading) {
    String identity = hostName() + "_" + UUID.randomUUID();
    client
        .leaderElector()
        .withConfig(
            new LeaderElectionConfigBuilder()
                .withName(leaseName)
                .withLock(new LeaseLock(namespace, leaseName, identity))
                .withLeaseDuration(Duration.ofSeconds(15))
                .withRenewDeadline(Duration.ofSeconds(10))
                .withRetryPeriod(Duration.ofSeconds(2))
                .withLeaderCallbacks(
                    new LeaderCallbacks(
                        () -> {
                          log.info("event=LeaderElected lease={} identity={}", leaseName, identity);
                          onLeading.run();
                        },
                        () -> {
                          log.warn(
                              "event=LeaderLost lease={} identity={}; exiting",
                              leaseName,
                              identity);
                          System.exit(1);
                        },
                        leader ->
                            log.info("event=LeaderObserved lease={} leader={}", leaseName, leader)))
                .withReleaseOnCancel(true)
                .build())
        .build()
        .start()
        .join();
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "unknown-host";
    }
  }
}
