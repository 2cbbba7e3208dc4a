package sh.kaito.images;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.cloud.tools.jib.api.buildplan.FileEntry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RootFsTest {
  @TempDir Path tmp;

  @Test
  void linksResolveInsideTheTreeNeverOnTheBuildMachine() throws Exception {
    Path root = tmp.resolve("rootfs");
    Files.createDirectories(root.resolve("usr/lib/jvm/jdk/lib"));
    Files.createDirectories(root.resolve("etc/java"));
    Files.createDirectories(root.resolve("usr/share/doc/pkg"));
    Files.writeString(root.resolve("etc/java/jvm.cfg"), "-server KNOWN\n");
    Files.writeString(root.resolve("usr/lib/jvm/jdk/lib/libjli.so"), "elf");
    Files.writeString(root.resolve("usr/share/doc/pkg/copyright"), "license");
    Files.writeString(root.resolve("usr/share/doc/pkg/changelog"), "noise");
    // absolute target: must be the tree's /etc/java/jvm.cfg, not the build machine's
    Files.createSymbolicLink(
        root.resolve("usr/lib/jvm/jdk/lib/jvm.cfg"), Path.of("/etc/java/jvm.cfg"));
    // relative target through a linked folder
    Files.createSymbolicLink(root.resolve("usr/lib/jvm/java-alias"), Path.of("jdk"));
    Files.createDirectories(root.resolve("lib64"));
    Files.createSymbolicLink(
        root.resolve("lib64/libjli.so"), Path.of("../usr/lib/jvm/java-alias/lib/libjli.so"));
    // dangling (the build machine has /etc/hostname; the tree does not)
    Files.createSymbolicLink(root.resolve("etc/hostname-link"), Path.of("/etc/hostname"));

    RootFs fs = RootFs.read(root);
    Map<String, FileEntry> entries =
        fs.layer("t").getEntries().stream()
            .collect(Collectors.toMap(e -> e.getExtractionPath().toString(), Function.identity()));

    assertThat(entries.get("/usr/lib/jvm/jdk/lib/jvm.cfg").getSourceFile())
        .isEqualTo(root.toRealPath().resolve("etc/java/jvm.cfg"));
    assertThat(entries.get("/lib64/libjli.so").getSourceFile())
        .isEqualTo(root.toRealPath().resolve("usr/lib/jvm/jdk/lib/libjli.so"));
    assertThat(entries).doesNotContainKeys("/etc/hostname-link", "/usr/lib/jvm/java-alias");
    assertThat(entries).containsKey("/usr/share/doc/pkg/copyright");
    assertThat(entries).doesNotContainKey("/usr/share/doc/pkg/changelog");
    assertThat(fs.skippedLinks()).isEqualTo(2);
    assertThat(entries.values()).allMatch(e -> e.getOwnership().equals("0:0"));
  }

  @Test
  void aFolderThatIsNoDebianTreeIsRefused() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> RootFs.read(tmp))
        .hasMessageContaining("40-base-image.sh");
  }
}
