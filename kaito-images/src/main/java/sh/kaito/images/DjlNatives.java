package sh.kaito.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * libtorch and the tokenizers library, unpacked once into DJL's cache layout under the build cache
 * and carried by the runtime image at {@link #IMAGE_DIR}, so a container never unpacks (432 MB,
 * about 6 s) nor downloads anything at start and runs with a read-only file system.
 *
 * <p>At run time {@code DJL_CACHE_DIR} names that folder and {@code PYTORCH_LIBRARY_PATH} the
 * libtorch folder in it: DJL then loads libtorch and its JNI library from there without the {@code
 * pytorch-native-*} jar, which the image therefore leaves out (checked offline, as a non-root user,
 * with the folder read-only).
 */
final class DjlNatives {
  static final String IMAGE_DIR = "/opt/djl";

  private final Path dir;
  private final String libtorchDir;

  private DjlNatives(Path dir, String libtorchDir) {
    this.dir = dir;
    this.libtorchDir = libtorchDir;
  }

  /** The unpacked folder (the image's {@code /opt/djl}). */
  Path dir() {
    return dir;
  }

  /** {@code PYTORCH_LIBRARY_PATH} inside the image. */
  String libtorchPath() {
    return IMAGE_DIR + "/pytorch/" + libtorchDir;
  }

  /**
   * Unpacks the natives of {@code classpath} (the runtime's jars) under {@code cacheRoot}, or
   * reuses an earlier unpacking of the same jars.
   */
  static DjlNatives unpack(List<Path> classpath, Path cacheRoot, String flavor)
      throws IOException, InterruptedException {
    List<String> nativeJars = new ArrayList<>();
    for (Path jar : classpath) {
      String name = jar.getFileName().toString();
      if (name.startsWith("pytorch-native-")
          || name.startsWith("pytorch-jni-")
          || name.startsWith("tokenizers-")) {
        nativeJars.add(name);
      }
    }
    if (nativeJars.stream().noneMatch(n -> n.startsWith("pytorch-native-"))) {
      throw new IOException("the runtime's classpath has no pytorch-native-* jar");
    }
    Path dir = cacheRoot.resolve("djl-natives").resolve(key(nativeJars));
    if (!Files.isRegularFile(dir.resolve(".complete"))) {
      Path tmp =
          Files.createDirectories(cacheRoot.resolve("djl-natives"))
              .resolve(".tmp-" + key(nativeJars));
      deleteTree(tmp);
      Files.createDirectories(tmp);
      List<String> command = new ArrayList<>();
      command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
      command.add("-Dai.djl.offline=true");
      command.add("-cp");
      List<String> cp = new ArrayList<>();
      classpath.forEach(p -> cp.add(p.toString()));
      cp.add(codeSource().toString());
      command.add(String.join(java.io.File.pathSeparator, cp));
      command.add(DjlWarmup.class.getName());
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
      pb.environment().put("DJL_CACHE_DIR", tmp.toString());
      pb.environment().put("PYTORCH_FLAVOR", flavor);
      pb.environment().remove("PYTORCH_LIBRARY_PATH");
      Path log = tmp.resolveSibling(tmp.getFileName() + ".log");
      pb.redirectOutput(log.toFile());
      Process p = pb.start();
      if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException("unpacking DJL's natives failed:\n" + Files.readString(log));
      }
      Files.writeString(tmp.resolve(".complete"), String.join("\n", nativeJars) + "\n");
      deleteTree(dir);
      Files.move(tmp, dir);
    }
    try (Stream<Path> libs = Files.list(dir.resolve("pytorch"))) {
      List<Path> found = libs.filter(Files::isDirectory).toList();
      if (found.size() != 1) {
        throw new IOException(dir + "/pytorch should hold one libtorch folder: " + found);
      }
      return new DjlNatives(dir, found.get(0).getFileName().toString());
    }
  }

  private static Path codeSource() throws IOException {
    try {
      return Path.of(DjlWarmup.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (java.net.URISyntaxException e) {
      throw new IOException(e);
    }
  }

  private static String key(List<String> jars) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      jars.stream().sorted().forEach(j -> sha.update((j + "\n").getBytes(StandardCharsets.UTF_8)));
      return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
