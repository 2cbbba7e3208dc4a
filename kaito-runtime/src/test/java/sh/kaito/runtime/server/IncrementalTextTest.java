package sh.kaito.runtime.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IncrementalTextTest {

  /** A byte-level "tokenizer": token = byte, decoded lossily like HF's ByteLevel decoder. */
  static String bytes(long[] ids) {
    byte[] b = new byte[ids.length];
    for (int i = 0; i < ids.length; i++) {
      b[i] = (byte) ids[i];
    }
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPLACE)
          .onUnmappableCharacter(CodingErrorAction.REPLACE)
          .decode(ByteBuffer.wrap(b))
          .toString();
    } catch (CharacterCodingException e) {
      throw new AssertionError(e);
    }
  }

  static long[] utf8(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    long[] ids = new long[b.length];
    for (int i = 0; i < b.length; i++) {
      ids[i] = b[i] & 0xFF;
    }
    return ids;
  }

  static String streamed(long[] ids, List<String> stops, List<String> deltas) {
    IncrementalText t = new IncrementalText(IncrementalTextTest::bytes, stops);
    StringBuilder out = new StringBuilder();
    for (long id : ids) {
      String d = t.add(id);
      deltas.add(d);
      out.append(d);
    }
    String rest = t.finish();
    deltas.add(rest);
    return out.append(rest).toString();
  }

  @Test
  void multiByteCharactersAreEmittedWhole() {
    String text = "héllo → 世界 🎉!";
    List<String> deltas = new java.util.ArrayList<>();
    assertThat(streamed(utf8(text), List.of(), deltas)).isEqualTo(text);
    assertThat(deltas).noneMatch(d -> d.contains("\uFFFD"));
    // The 4-byte emoji arrives as one delta, after its last byte.
    assertThat(deltas).contains("🎉");
  }

  @Test
  void randomBytesConcatenateToTheWholeDecode() {
    Random r = new Random(3);
    for (int round = 0; round < 200; round++) {
      long[] ids = new long[1 + r.nextInt(40)];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = r.nextBoolean() ? r.nextInt(256) : 'a' + r.nextInt(3);
      }
      List<String> stops = r.nextBoolean() ? List.of() : List.of("ab", "ca");
      assertThat(streamed(ids, stops, new java.util.ArrayList<>()))
          .as("round %d", round)
          .isEqualTo(IncrementalText.cut(bytes(ids), stops));
    }
  }

  @Test
  void aStopStringSplitOverTokensIsNeverEmitted() {
    List<String> deltas = new java.util.ArrayList<>();
    String out = streamed(utf8("one two<END>three"), List.of("<END>", "zz"), deltas);
    assertThat(out).isEqualTo("one two");
    assertThat(String.join("", deltas)).doesNotContain("<");
  }

  @Test
  void theEarliestStopStringWins() {
    assertThat(IncrementalText.cut("a STOP b HALT", List.of("HALT", "STOP"))).isEqualTo("a ");
    assertThat(IncrementalText.cut("no stop here", List.of("HALT"))).isEqualTo("no stop here");
  }
}
