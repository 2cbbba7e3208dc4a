package sh.kaito.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The -cuda runtime's libraries keep torch's relative layout, so its $ORIGIN RPATHs resolve. */
class CudaLayersTest {
  @TempDir Path site;

  @Test
  void torchLibAndEachNvidiaPackageBecomeOneLayerAtTheSameRelativePlaces() throws Exception {
    write("torch/lib/libtorch_cuda.so");
    write("torch/lib/libtorch.so");
    Files.writeString(site.resolve("torch/version.py"), "__version__ = '2.7.1+cu126'\n");
    write("nvidia/cublas/lib/libcublas.so.12");
    write("nvidia/cudnn/lib/libcudnn.so.9");
    write("nvidia/cudnn/include/cudnn.h"); // headers are not libraries
    write("nvidia/__pycache__/x.pyc");
    write("cusparselt/lib/libcusparseLt.so.0");

    List<FileEntriesLayer> layers = ImageBuilder.cudaLayers(site);

    assertThat(layers)
        .extracting(FileEntriesLayer::getName)
        .containsExactly("torch-lib", "nvidia-cublas", "nvidia-cudnn", "cusparselt");
    assertThat(layers.get(0).getEntries())
        .extracting(e -> e.getExtractionPath().toString())
        .containsExactly(
            "/opt/torch/torch/lib/libtorch.so", "/opt/torch/torch/lib/libtorch_cuda.so");
    assertThat(layers.get(2).getEntries())
        .extracting(e -> e.getExtractionPath().toString())
        .containsExactly("/opt/torch/nvidia/cudnn/lib/libcudnn.so.9");
  }

  @Test
  void aCpuTorchOrAnotherVersionIsRefused() throws Exception {
    write("torch/lib/libtorch.so");
    assertThatThrownBy(() -> ImageBuilder.cudaLayers(site)).hasMessageContaining("no CUDA torch");
    write("torch/lib/libtorch_cuda.so");
    Files.writeString(site.resolve("torch/version.py"), "__version__ = '2.11.0+cu130'\n");
    assertThatThrownBy(() -> ImageBuilder.cudaLayers(site)).hasMessageContaining("is not 2.7.1");
  }

  private void write(String rel) throws Exception {
    Path f = site.resolve(rel);
    Files.createDirectories(f.getParent());
    Files.writeString(f, rel);
  }
}
