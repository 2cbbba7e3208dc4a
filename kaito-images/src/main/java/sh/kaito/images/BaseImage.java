package sh.kaito.images;

import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FileEntry;
import com.google.cloud.tools.jib.api.buildplan.FilePermissions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The base of every Java image: the Debian tree (one layer) and what the packages' maintainer
 * scripts would have written (a second, small layer): the users, the CA bundle, Java's trust store,
 * the non-root user's home, {@code /tmp}, and the list of packages and versions.
 *
 * <p>Images run as {@code kaito} (uid and gid {@value #UID}); nothing in them needs root.
 */
final class BaseImage {
  static final int UID = 65532;
  static final String USER = UID + ":" + UID;
  static final String HOME = "/home/kaito";
  static final String JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64";

  private final Path rootfs;
  private final RootFs tree;
  private final FileEntriesLayer generated;

  private BaseImage(Path rootfs, RootFs tree, FileEntriesLayer generated) {
    this.rootfs = rootfs;
    this.tree = tree;
    this.generated = generated;
  }

  /**
   * Reads the unpacked tree ({@code KAITO_BASE_ROOTFS}) and writes the generated files into {@code
   * workDir}.
   */
  static BaseImage prepare(Path rootfs, Path workDir) throws IOException {
    RootFs tree = RootFs.read(rootfs);
    if (!Files.isExecutable(rootfs.resolve(JAVA_HOME.substring(1)).resolve("bin/java"))) {
      throw new IOException(rootfs + " has no " + JAVA_HOME + "/bin/java");
    }
    Path dir = Files.createDirectories(workDir.resolve("base"));
    List<Path> certs = TrustStores.certificateFiles(rootfs);
    Path passwd =
        write(
            dir.resolve("passwd"),
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                + "kaito:x:"
                + UID
                + ":"
                + UID
                + ":kaito:"
                + HOME
                + ":/usr/sbin/nologin\n");
    Path group = write(dir.resolve("group"), "root:x:0:\nnogroup:x:65534:\nkaito:x:" + UID + ":\n");
    Path bundle = Files.write(dir.resolve("ca-certificates.crt"), TrustStores.pemBundle(certs));
    Path cacerts = Files.write(dir.resolve("cacerts"), TrustStores.javaTrustStore(certs));
    Path lock = rootfs.resolveSibling("packages.lock");
    Path packages =
        write(
            dir.resolve("packages.lock"),
            Files.isRegularFile(lock) ? Files.readString(lock) : "unknown\n");
    Path emptyDir = Files.createDirectories(dir.resolve("empty"));

    FilePermissions file = FilePermissions.fromOctalString("644");
    FileEntriesLayer generated =
        FileEntriesLayer.builder()
            .setName("kaito-base")
            .addEntry(entry(passwd, "/etc/passwd", file, "0:0"))
            .addEntry(entry(group, "/etc/group", file, "0:0"))
            .addEntry(entry(bundle, "/etc/ssl/certs/ca-certificates.crt", file, "0:0"))
            .addEntry(entry(cacerts, "/etc/ssl/certs/java/cacerts", file, "0:0"))
            .addEntry(entry(cacerts, JAVA_HOME + "/lib/security/cacerts", file, "0:0"))
            .addEntry(entry(packages, "/usr/share/kaito/packages.lock", file, "0:0"))
            .addEntry(entry(emptyDir, HOME, FilePermissions.fromOctalString("755"), USER))
            // Debian's /root is 0700; the controller mounts push secrets at upstream's
            // /root/.docker,
            // which the non-root user must be able to reach (docs/images.md).
            .addEntry(entry(emptyDir, "/root", FilePermissions.fromOctalString("755"), "0:0"))
            // No sticky bit: jib writes permission bits only. Pods mount an emptyDir here.
            .addEntry(entry(emptyDir, "/tmp", FilePermissions.fromOctalString("777"), "0:0"))
            .build();
    return new BaseImage(rootfs, tree, generated);
  }

  /** The Debian tree, then the generated files (which win where both have a path). */
  List<FileEntriesLayer> layers() {
    return List.of(tree.layer("debian"), generated);
  }

  /** The environment every image starts from. */
  static Map<String, String> environment() {
    Map<String, String> env = new LinkedHashMap<>();
    env.put(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + JAVA_HOME + "/bin");
    env.put("JAVA_HOME", JAVA_HOME);
    env.put("LANG", "C.UTF-8");
    env.put("HOME", HOME);
    return env;
  }

  RootFs tree() {
    return tree;
  }

  Path rootfs() {
    return rootfs;
  }

  static FileEntry entry(Path source, String path, FilePermissions mode, String owner) {
    return new FileEntry(
        source,
        AbsoluteUnixPath.get(path),
        mode,
        FileEntriesLayer.DEFAULT_MODIFICATION_TIME,
        owner);
  }

  private static Path write(Path file, String text) throws IOException {
    return Files.writeString(file, text, StandardCharsets.UTF_8);
  }
}
