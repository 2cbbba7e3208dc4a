package sh.kaito.runtime.generate;

/** Receives each generated token as soon as it is chosen (for streaming). */
@FunctionalInterface
public interface TokenListener {
  void onToken(long tokenId);

  TokenListener NONE = t -> {};
}
