package sh.kaito.runtime.model;

import java.io.IOException;

/** A model directory or weights file that cannot be used as it is: names the file and the fault. */
public class ModelFormatException extends IOException {

  public ModelFormatException(String message) {
    super(message);
  }

  public ModelFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
