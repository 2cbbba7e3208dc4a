package sh.kaito.runtime.tuning.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import sh.kaito.runtime.tuning.data.DataFiles.DataFile;

/**
 * Reads a data file's rows through DuckDB (an in-memory database, one per read): parquet, JSON
 * (JSON Lines or one array of objects, as {@code datasets}' json loader) and CSV (with a header;
 * every value a string). Each row comes back as a JSON object, in file order. Text files are first
 * checked to be UTF-8, so that an encoding error names its line.
 */
final class DataReader {

  private static final ObjectMapper JSON = new ObjectMapper();

  private DataReader() {}

  static List<ObjectNode> read(DataFile file) {
    try {
      if (Files.size(file.path()) == 0) {
        throw new DatasetException(file.path(), "the file is empty");
      }
    } catch (IOException e) {
      throw new DatasetException(file.path(), 0, "cannot read: " + e.getMessage(), e);
    }
    if (!file.format().equals("parquet")) {
      checkUtf8(file);
    }
    String source = literal(file.path().toAbsolutePath().toString());
    String table =
        switch (file.format()) {
          case "parquet" -> "read_parquet(" + source + ")";
          case "json" -> "read_json(" + source + ", format = 'auto', sample_size = -1)";
          case "csv" -> "read_csv(" + source + ", header = true, all_varchar = true)";
          default -> throw new IllegalArgumentException(file.format());
        };
    List<ObjectNode> rows = new ArrayList<>();
    try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT to_json(t) FROM " + table + " t")) {
      while (rs.next()) {
        JsonNode row = JSON.readTree(rs.getString(1));
        if (!row.isObject()) {
          throw new DatasetException(
              file.path(), rows.size() + 1, "expected an object with named columns, got " + row);
        }
        rows.add((ObjectNode) row);
      }
    } catch (SQLException e) {
      throw new DatasetException(file.path(), 0, describe(file, e), e);
    } catch (IOException e) {
      throw new DatasetException(file.path(), rows.size() + 1, "cannot read: " + e.getMessage(), e);
    }
    if (rows.isEmpty()) {
      throw new DatasetException(file.path(), "the file has no rows");
    }
    return rows;
  }

  private static String describe(DataFile file, SQLException e) {
    String m = String.valueOf(e.getMessage());
    if (file.format().equals("parquet")
        && (m.contains("magic bytes") || m.contains("too small") || m.contains("footer"))) {
      return "not a complete parquet file (truncated or not parquet): " + firstLine(m);
    }
    return "cannot read as " + file.format() + ": " + firstLine(m);
  }

  private static String firstLine(String m) {
    return m.lines().findFirst().orElse(m).trim();
  }

  private static String literal(String s) {
    return "'" + s.replace("'", "''") + "'";
  }

  /** Fails on the first byte sequence that is not UTF-8, naming its line (1-based). */
  private static void checkUtf8(DataFile file) {
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.allocate(1 << 16);
    CharBuffer out = CharBuffer.allocate(1 << 16);
    long line = 1;
    try (InputStream stream = Files.newInputStream(file.path())) {
      boolean eof = false;
      while (!eof) {
        int n = stream.read(in.array(), in.position(), in.remaining());
        if (n < 0) {
          eof = true;
        } else {
          in.position(in.position() + n);
        }
        in.flip();
        CoderResult r = decoder.decode(in, out, eof);
        if (r.isError()) {
          line += countLines(out);
          throw new DatasetException(
              file.path(),
              0,
              "line " + line + ": not valid UTF-8 (convert the file to UTF-8)",
              new CharacterCodingException());
        }
        line += countLines(out);
        out.clear();
        in.compact();
      }
    } catch (IOException e) {
      throw new DatasetException(file.path(), 0, "cannot read: " + e.getMessage(), e);
    }
  }

  private static long countLines(CharBuffer out) {
    long n = 0;
    for (int i = 0; i < out.position(); i++) {
      if (out.get(i) == '\n') {
        n++;
      }
    }
    return n;
  }
}
