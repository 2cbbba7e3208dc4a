package sh.kaito.testsupport;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/** Installs the project's CustomResourceDefinitions: every {@code crds/*.yaml} on the classpath. */
public final class Crds {

  /** The classpath folder kaito-api puts its CRD manifests in. */
  public static final String CLASSPATH_FOLDER = "crds";

  private Crds() {}

  /**
   * Applies (server-side) every CRD found under classpath {@code crds/} and waits until each is
   * Established, so a test can create objects of that kind right away. Returns their names.
   */
  public static List<String> install(KubernetesClient client) {
    List<String> names = new ArrayList<>();
    for (String resource : classpathManifests()) {
      try (InputStream in = Crds.class.getClassLoader().getResourceAsStream(resource)) {
        for (HasMetadata item : client.load(in).items()) {
          if (!(item instanceof CustomResourceDefinition crd)) {
            throw new IllegalStateException(
                resource + " holds a " + item.getKind() + ", not a CRD");
          }
          client.resource(crd).forceConflicts().serverSideApply();
          names.add(crd.getMetadata().getName());
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    for (String name : names) {
      client
          .apiextensions()
          .v1()
          .customResourceDefinitions()
          .withName(name)
          .waitUntilCondition(Crds::established, 60, TimeUnit.SECONDS);
    }
    return names;
  }

  static boolean established(CustomResourceDefinition crd) {
    return crd != null
        && crd.getStatus() != null
        && crd.getStatus().getConditions().stream()
            .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** Resource names ({@code crds/x.yaml}) in a stable order, from folders and jars alike. */
  static List<String> classpathManifests() {
    TreeSet<String> found = new TreeSet<>();
    try {
      for (URL url : Collections.list(Crds.class.getClassLoader().getResources(CLASSPATH_FOLDER))) {
        switch (url.getProtocol()) {
          case "file" -> {
            try (Stream<Path> files = Files.list(Path.of(url.toURI()))) {
              files
                  .map(f -> f.getFileName().toString())
                  .filter(Crds::isYaml)
                  .forEach(f -> found.add(CLASSPATH_FOLDER + "/" + f));
            }
          }
          case "jar" -> {
            JarURLConnection connection = (JarURLConnection) url.openConnection();
            // The cached JarFile is shared with the class loader; closing it would break it.
            connection.setUseCaches(false);
            try (JarFile jar = connection.getJarFile()) {
              jar.stream()
                  .map(e -> e.getName())
                  .filter(n -> n.startsWith(CLASSPATH_FOLDER + "/") && isYaml(n))
                  .filter(n -> n.indexOf('/', CLASSPATH_FOLDER.length() + 1) < 0)
                  .forEach(found::add);
            }
          }
          default -> throw new IllegalStateException("cannot list CRDs in " + url);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
    return List.copyOf(found);
  }

  private static boolean isYaml(String name) {
    return name.endsWith(".yaml") || name.endsWith(".yml");
  }
}
