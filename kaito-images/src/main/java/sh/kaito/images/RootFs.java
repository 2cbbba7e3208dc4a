package sh.kaito.images;

import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FileEntry;
import com.google.cloud.tools.jib.api.buildplan.FilePermissions;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * A directory tree unpacked from Debian packages ({@code dpkg-deb -x}), as one jib-core layer.
 *
 * <p>jib-core writes only directories and regular files, so a symbolic link becomes a copy of what
 * it points to <em>inside the tree</em> (an absolute target such as {@code /etc/java-17-openjdk/…}
 * is looked up under the tree, never on the build machine). Links to directories and links whose
 * target the tree lacks are left out and counted. Documentation, manual pages and the debug-symbol
 * links are left out too (the Debian copyright files stay). Every entry is owned by root, keeps its
 * permission bits and gets jib's fixed modification time, so the same tree always gives the same
 * layer digest.
 */
final class RootFs {

  /** Left out: documentation (except copyright files), manuals, lintian data, debug links. */
  private static final List<String> LEFT_OUT =
      List.of(
          "usr/share/doc/",
          "usr/share/man/",
          "usr/share/info/",
          "usr/share/lintian/",
          "usr/lib/debug/",
          "usr/share/bug/");

  private static final int MAX_LINK_HOPS = 40;

  private final Path root;
  private final TreeMap<String, FileEntry> entries = new TreeMap<>();
  private int skippedLinks;

  private RootFs(Path root) {
    this.root = root;
  }

  /** Reads the tree at {@code root}. */
  static RootFs read(Path root) throws IOException {
    if (!Files.isDirectory(root.resolve("usr"))) {
      throw new IOException(
          root + " is not an unpacked Debian tree (no usr/): run hack/setup/40-base-image.sh");
    }
    RootFs fs = new RootFs(root.toRealPath());
    fs.walk();
    return fs;
  }

  int fileCount() {
    return entries.size();
  }

  /** Links left out: to directories, or to something the tree does not hold. */
  int skippedLinks() {
    return skippedLinks;
  }

  FileEntriesLayer layer(String name) {
    FileEntriesLayer.Builder layer = FileEntriesLayer.builder().setName(name);
    entries.values().forEach(layer::addEntry);
    return layer.build();
  }

  private void walk() throws IOException {
    Files.walkFileTree(
        root,
        Set.of(),
        Integer.MAX_VALUE,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs)
              throws IOException {
            String rel = relative(dir);
            if (rel.isEmpty()) {
              return FileVisitResult.CONTINUE;
            }
            if (rel.startsWith("usr/share/doc")) {
              // Entered only for the copyright files; jib adds their folders itself.
              return FileVisitResult.CONTINUE;
            }
            if (leftOut(rel + "/")) {
              return FileVisitResult.SKIP_SUBTREE;
            }
            add(rel, dir, dir);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            String rel = relative(file);
            if (leftOut(rel) && !isCopyright(rel)) {
              return FileVisitResult.CONTINUE;
            }
            if (attrs.isSymbolicLink()) {
              Optional<Path> target = resolve("/" + rel);
              if (target.isPresent()
                  && Files.isRegularFile(target.get(), LinkOption.NOFOLLOW_LINKS)) {
                add(rel, target.get(), target.get());
              } else {
                skippedLinks++;
              }
            } else if (attrs.isRegularFile()) {
              add(rel, file, file);
            }
            return FileVisitResult.CONTINUE;
          }
        });
  }

  private static boolean isCopyright(String rel) {
    return rel.startsWith("usr/share/doc/") && rel.endsWith("/copyright");
  }

  private static boolean leftOut(String rel) {
    return LEFT_OUT.stream().anyMatch(rel::startsWith);
  }

  private void add(String rel, Path source, Path modeFrom) throws IOException {
    FilePermissions permissions =
        FilePermissions.fromPosixFilePermissions(
            Files.getPosixFilePermissions(modeFrom, LinkOption.NOFOLLOW_LINKS));
    entries.put(
        rel,
        new FileEntry(
            source,
            AbsoluteUnixPath.get("/" + rel),
            permissions,
            FileEntriesLayer.DEFAULT_MODIFICATION_TIME,
            "0:0"));
  }

  private String relative(Path p) {
    return root.relativize(p).toString();
  }

  /**
   * Resolves an absolute path of the image file system inside the tree, following links component
   * by component, with absolute targets taken relative to the tree's root.
   */
  Optional<Path> resolve(String unixPath) throws IOException {
    Deque<String> todo = new ArrayDeque<>(components(unixPath));
    List<String> done = new ArrayList<>();
    int hops = 0;
    while (!todo.isEmpty()) {
      String c = todo.pollFirst();
      if (c.isEmpty() || c.equals(".")) {
        continue;
      }
      if (c.equals("..")) {
        if (!done.isEmpty()) {
          done.remove(done.size() - 1);
        }
        continue;
      }
      Path candidate = root.resolve(String.join("/", done)).resolve(c);
      if (Files.isSymbolicLink(candidate)) {
        if (++hops > MAX_LINK_HOPS) {
          return Optional.empty();
        }
        String target = Files.readSymbolicLink(candidate).toString();
        if (target.startsWith("/")) {
          done.clear();
        }
        List<String> parts = components(target);
        for (int i = parts.size() - 1; i >= 0; i--) {
          todo.addFirst(parts.get(i));
        }
      } else {
        done.add(c);
      }
    }
    Path p = root.resolve(String.join("/", done));
    return Files.exists(p, LinkOption.NOFOLLOW_LINKS) ? Optional.of(p) : Optional.empty();
  }

  private static List<String> components(String path) {
    List<String> out = new ArrayList<>();
    for (String s : path.split("/")) {
      if (!s.isEmpty()) {
        out.add(s);
      }
    }
    return out;
  }
}
