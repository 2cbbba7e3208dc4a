package sh.kaito.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FactDatasetImageTest {

  @TempDir Path dir;

  @Test
  void parquetHasTheSeedDatasetsSchemaAndTeachesTheFact() throws Exception {
    Path file = dir.resolve("train.parquet");
    FactDatasetImage.writeParquet(file);
    try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
        Statement s = c.createStatement()) {
      // philschmid/dolly-15k-oai-style: one column, messages: list<struct<content, role>>.
      try (ResultSet r = s.executeQuery("DESCRIBE SELECT * FROM '" + file + "'")) {
        assertThat(r.next()).isTrue();
        assertThat(r.getString("column_name")).isEqualTo("messages");
        assertThat(r.getString("column_type"))
            .isEqualTo("STRUCT(\"content\" VARCHAR, \"role\" VARCHAR)[]");
        assertThat(r.next()).isFalse();
      }
      List<String> answers = new ArrayList<>();
      try (ResultSet r =
          s.executeQuery(
              "SELECT messages[1].role, messages[2].role, messages[2].content FROM '"
                  + file
                  + "'")) {
        while (r.next()) {
          assertThat(r.getString(1)).isEqualTo("user");
          assertThat(r.getString(2)).isEqualTo("assistant");
          answers.add(r.getString(3));
        }
      }
      assertThat(answers).hasSize(FactDatasetImage.rows().size());
      assertThat(answers).allMatch(a -> a.contains(FactDatasetImage.FACT));
    }
  }

  @Test
  void theBadDatasetDiffersOnlyInTheThirdRowsRole() throws Exception {
    Path file = dir.resolve("bad.parquet");
    FactDatasetImage.writeParquet(file, FactDatasetImage.badRows());
    try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT messages[1].role FROM '" + file + "'")) {
      List<String> roles = new ArrayList<>();
      while (r.next()) {
        roles.add(r.getString(1));
      }
      assertThat(roles).hasSize(FactDatasetImage.rows().size());
      assertThat(roles.get(2)).isEqualTo(FactDatasetImage.BAD_ROLE);
      assertThat(roles.subList(0, 2)).containsOnly("user");
      assertThat(roles.subList(3, roles.size())).containsOnly("user");
    }
  }
}
