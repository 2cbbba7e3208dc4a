package sh.kaito.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

/**
 * Run in a JVM with a small heap by {@link LargeSafetensorsIT}: loads every tensor of a weights
 * directory, reads values through libtorch, and prints the sums and the peak heap used.
 */
public final class MappedLoadProbe {

  private MappedLoadProbe() {}

  public static void main(String[] args) throws Exception {
    WeightStore store = WeightStore.open(Path.of(args[0]));
    long peak = 0;
    try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
      for (String name : store.names()) {
        NDArray a = store.load(name, manager, DataType.FLOAT32);
        System.out.printf("tensor=%s shape=%s sum=%.1f%n", name, a.getShape(), a.sum().getFloat());
        peak = Math.max(peak, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
      }
    }
    System.out.printf("peakHeapBytes=%d maxHeapBytes=%d%n", peak, Runtime.getRuntime().maxMemory());
  }
}
