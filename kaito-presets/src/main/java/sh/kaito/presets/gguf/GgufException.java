package sh.kaito.presets.gguf;

import java.io.IOException;

/**
 * A GGUF file this reader cannot use: not GGUF, truncated, inconsistent, or holding a tensor type
 * or architecture it does not convert. The message names the file and what is wrong.
 */
public class GgufException extends IOException {
  public GgufException(String message) {
    super(message);
  }
}
