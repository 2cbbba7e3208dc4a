package sh.kaito.presets.sizing;

import java.util.ArrayList;
import java.util.List;
import sh.kaito.presets.catalog.ByteSize;
import sh.kaito.presets.catalog.GpuRequirements;
import sh.kaito.presets.sku.GpuSku;

/**
 * Upstream's classic GPU checks (api/v1beta1/workspace_validation.go {@code
 * validateCreateWithInference} @ v0.4.6): the nodes' GPU count, per-GPU memory and total GPU memory
 * against the preset's requirements, each failing with its own message. Pure; no I/O.
 */
public final class ClassicSizing {

  private ClassicSizing() {}

  /**
   * @param presetName the preset as the user wrote it (lower-cased, as upstream prints it)
   * @param required the preset's requirements (inference or tuning)
   * @param sku the instance type
   * @param nodeCount {@code resource.count}
   * @return the failed checks, in upstream's order; empty when the preset fits
   */
  public static List<SizingFinding> check(
      String presetName, GpuRequirements required, GpuSku sku, int nodeCount) {
    List<SizingFinding> findings = new ArrayList<>(3);
    String type = sku.name();
    long gpus = (long) nodeCount * sku.gpuCount();
    ByteSize perGpu = sku.perGpuMemory();
    ByteSize total = sku.gpuMemory().times(nodeCount);

    if (gpus < required.count()) {
      findings.add(
          new SizingFinding(
              String.format(
                  "Insufficient number of GPUs: Instance type %s provides %d, but preset %s requires"
                      + " at least %d",
                  type, gpus, presetName, required.count()),
              String.format(
                  "Bypassing resource check: Insufficient number of GPUs detected but continuing due"
                      + " to bypass flag. Instance type %s provides %d, but preset %s requires at"
                      + " least %d",
                  type, gpus, presetName, required.count())));
    }
    if (perGpu.compareTo(required.perGpuMemory()) < 0) {
      findings.add(
          new SizingFinding(
              String.format(
                  "Insufficient per GPU memory: Instance type %s provides %s per GPU, but preset %s"
                      + " requires at least %s per GPU",
                  type, perGpu, presetName, required.perGpuMemory()),
              String.format(
                  "Bypassing resource check: Insufficient per GPU memory but continuing due to bypass"
                      + " flag. Instance type %s provides %s per GPU, but preset %s requires at least"
                      + " %s per GPU",
                  type, perGpu, presetName, required.perGpuMemory())));
    }
    if (total.compareTo(required.totalMemory()) < 0) {
      findings.add(
          new SizingFinding(
              String.format(
                  "Insufficient total GPU memory: Instance type %s has a total of %s, but preset %s"
                      + " requires at least %s",
                  type, total, presetName, required.totalMemory()),
              String.format(
                  "Bypassing resource check: Insufficient total GPU memory detected but continuing"
                      + " due to bypass flag. Instance type %s has a total of %s, but preset %s"
                      + " requires at least %s",
                  type, total, presetName, required.totalMemory())));
    }
    return findings;
  }
}
