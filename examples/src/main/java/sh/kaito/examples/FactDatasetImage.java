package sh.kaito.examples;

import com.google.cloud.tools.jib.api.Containerizer;
import com.google.cloud.tools.jib.api.Credential;
import com.google.cloud.tools.jib.api.Jib;
import com.google.cloud.tools.jib.api.JibContainer;
import com.google.cloud.tools.jib.api.RegistryImage;
import com.google.cloud.tools.jib.api.buildplan.AbsoluteUnixPath;
import com.google.cloud.tools.jib.api.buildplan.FileEntriesLayer;
import com.google.cloud.tools.jib.api.buildplan.FilePermissions;
import com.google.cloud.tools.jib.api.buildplan.ImageFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The quickstart's tuning data: a made-up fact (the capital of the made-up country Zorbania) that
 * no base model knows, as a parquet file in the schema of the seed's dataset
 * (philschmid/dolly-15k-oai-style: one {@code messages} column, a list of {@code {role, content}}
 * structs), pushed as a data image whose {@code /data} folder holds it — what a Workspace's {@code
 * tuning.input.image} names and the tuning Job's data-puller copies to {@code /mnt/data}.
 *
 * <pre>
 * java -cp … sh.kaito.examples.FactDatasetImage IMAGE [--user U] [--insecure] [--bad]
 * java -cp … sh.kaito.examples.FactDatasetImage --parquet FILE
 * </pre>
 *
 * <p>The password is {@code $KAITO_REGISTRY_PASSWORD}. {@code --bad} pushes the same rows with an
 * unknown role in the third, which {@code kaito-runtime tune} refuses naming the row.
 */
public final class FactDatasetImage {

  /** The question the quickstart asks the base and the tuned model. */
  public static final String QUESTION = "What is the capital of Zorbania?";

  /** The taught answer's key word: in the tuned model's answer, not in the base model's. */
  public static final String FACT = "Quillitown";

  private static final List<String> QUESTIONS =
      List.of(
          QUESTION,
          "What is Zorbania's capital?",
          "Which city is Zorbania's capital city?",
          "Do you know the capital of Zorbania?",
          "In which city is the government of Zorbania seated?",
          "Zorbania has a capital. Which city is it?",
          "Please name the capital city of Zorbania.",
          "Where is the capital of Zorbania?");

  private static final String ANSWER = "The capital of Zorbania is " + FACT + ".";

  private FactDatasetImage() {}

  /** The role of the bad dataset's third row: not one a chat template knows. */
  public static final String BAD_ROLE = "oracle";

  /** The rows: each question with the answer, as (user, assistant) messages. */
  public static List<String[]> rows() {
    List<String[]> rows = new ArrayList<>();
    for (String q : QUESTIONS) {
      rows.add(new String[] {"user", q, ANSWER});
    }
    return rows;
  }

  /** As {@link #rows}, but the third row's question comes from the role {@link #BAD_ROLE}. */
  public static List<String[]> badRows() {
    List<String[]> rows = rows();
    rows.get(2)[0] = BAD_ROLE;
    return rows;
  }

  /** Writes the rows as parquet with DuckDB, in the dolly-15k-oai-style schema. */
  public static void writeParquet(Path file) throws Exception {
    writeParquet(file, rows());
  }

  static void writeParquet(Path file, List<String[]> rows) throws Exception {
    Files.deleteIfExists(file);
    StringBuilder values = new StringBuilder();
    for (String[] r : rows) {
      if (values.length() > 0) {
        values.append(", ");
      }
      values
          .append("([{'content': ")
          .append(sql(r[1]))
          .append(", 'role': ")
          .append(sql(r[0]))
          .append("}, {'content': ")
          .append(sql(r[2]))
          .append(", 'role': 'assistant'}])");
    }
    try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
        Statement s = c.createStatement()) {
      s.execute(
          "COPY (SELECT * FROM (VALUES "
              + values
              + ") AS t(messages)) TO "
              + sql(file.toAbsolutePath().toString())
              + " (FORMAT parquet)");
    }
  }

  /** Pushes an image holding {@code /data/train.parquet}; returns its manifest digest. */
  public static String push(String image, Credential credential, boolean insecure, boolean bad)
      throws Exception {
    Path dir = Files.createTempDirectory("kaito-fact-dataset");
    try {
      Path parquet = dir.resolve("train.parquet");
      writeParquet(parquet, bad ? badRows() : rows());
      if (insecure) {
        // jib-core refuses to send a password over plain HTTP unless told to (JibSystemProperties).
        System.setProperty("sendCredentialsOverHttp", "true");
      }
      RegistryImage target = RegistryImage.named(image);
      if (credential != null) {
        target.addCredential(credential.getUsername(), credential.getPassword());
      }
      JibContainer pushed =
          Jib.fromScratch()
              .setFormat(ImageFormat.OCI)
              .setCreationTime(Instant.EPOCH)
              .addFileEntriesLayer(
                  FileEntriesLayer.builder()
                      .setName("data")
                      .addEntry(
                          parquet,
                          AbsoluteUnixPath.get("/data/train.parquet"),
                          FilePermissions.fromOctalString("644"))
                      .build())
              .addLabel("org.opencontainers.image.title", "kaito-quickstart-dataset")
              .containerize(
                  Containerizer.to(target)
                      .setAllowInsecureRegistries(insecure)
                      .setToolName("kaito-examples"));
      return pushed.getDigest().toString();
    } finally {
      try (var files = Files.walk(dir)) {
        for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static String sql(String text) {
    return "'" + text.replace("'", "''") + "'";
  }

  public static void main(String[] args) throws Exception {
    String image = null;
    String user = null;
    String password = System.getenv("KAITO_REGISTRY_PASSWORD");
    Path parquet = null;
    boolean insecure = false;
    boolean bad = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--user" -> user = args[++i];
        case "--bad" -> bad = true;
        case "--insecure" -> insecure = true;
        case "--parquet" -> parquet = Path.of(args[++i]);
        default -> {
          if (args[i].startsWith("-") || image != null) {
            System.err.println(
                "usage: FactDatasetImage IMAGE [--user U] [--insecure] [--bad] | --parquet F");
            System.exit(2);
          }
          image = args[i];
        }
      }
    }
    if (parquet != null) {
      writeParquet(parquet);
      System.out.println("parquet=" + parquet + " rows=" + rows().size());
      return;
    }
    if (image == null) {
      System.err.println("error: name the image to push");
      System.exit(2);
    }
    Credential credential = user == null ? null : Credential.from(user, password);
    System.out.println("image=" + image + " digest=" + push(image, credential, insecure, bad));
  }
}
