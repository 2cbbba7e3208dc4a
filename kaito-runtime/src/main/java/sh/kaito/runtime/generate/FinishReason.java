package sh.kaito.runtime.generate;

/** Why a generation ended (the names follow the OpenAI API). */
public enum FinishReason {
  /** An EOS token or a stop string. */
  STOP,
  /** {@code max_new_tokens} reached. */
  LENGTH
}
