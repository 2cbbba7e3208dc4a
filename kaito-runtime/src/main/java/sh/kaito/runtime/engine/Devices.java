package sh.kaito.runtime.engine;

import ai.djl.Device;
import ai.djl.engine.Engine;

/**
 * The device the engine runs on, chosen at start ({@code --device} or {@code KAITO_DEVICE}): {@code
 * cpu} (the default, fp32) or {@code cuda} / {@code cuda:N} (fp16 weights). See docs/runtime.md for
 * what is unverified on CUDA.
 */
public final class Devices {

  private Devices() {}

  public static Device parse(String spec) {
    String s = spec == null ? "cpu" : spec.trim().toLowerCase(java.util.Locale.ROOT);
    if (s.isEmpty() || s.equals("cpu")) {
      return Device.cpu();
    }
    if (s.equals("cuda") || s.equals("gpu")) {
      return Device.gpu();
    }
    if (s.startsWith("cuda:") || s.startsWith("gpu:")) {
      try {
        return Device.gpu(Integer.parseInt(s.substring(s.indexOf(':') + 1)));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad device '" + spec + "': expected cuda:<index>", e);
      }
    }
    throw new IllegalArgumentException(
        "unknown device '" + spec + "' (expected cpu, cuda, cuda:N)");
  }

  /** {@code KAITO_DEVICE}, or the CPU. */
  public static Device fromEnvironment() {
    return parse(System.getenv("KAITO_DEVICE"));
  }

  /**
   * One line for the log saying where the model runs, and on the CPU why: a pod that was given an
   * {@code nvidia.com/gpu} (a node advertising GPUs it does not have, as local real nodes do, or a
   * CPU image on a GPU node) must say that it computes on the CPU.
   */
  public static String describe(Device device) {
    if (device.isGpu()) {
      return "device=" + device + " (GPU)";
    }
    int gpus;
    try {
      gpus = Engine.getEngine("PyTorch").getGpuCount();
    } catch (RuntimeException e) {
      gpus = 0;
    }
    return "device=cpu (float32 on the CPU; libtorch sees "
        + gpus
        + " GPU(s)"
        + (gpus == 0
            ? ", so a GPU this pod was given is not used)"
            : "; KAITO_DEVICE=cuda uses one)");
  }

  /** Fails clearly, instead of in native code, when a GPU is asked of a CPU-only libtorch. */
  static void requireAvailable(Device device) {
    if (device.isGpu()) {
      int gpus = Engine.getEngine("PyTorch").getGpuCount();
      if (device.getDeviceId() >= gpus) {
        throw new IllegalStateException(
            "device "
                + device
                + " requested but libtorch sees "
                + gpus
                + " GPU(s); a CUDA build of libtorch (not pytorch-native-cpu) and a GPU are needed");
      }
    }
  }
}
