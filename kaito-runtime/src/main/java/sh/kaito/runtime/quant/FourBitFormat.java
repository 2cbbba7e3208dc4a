package sh.kaito.runtime.quant;

import java.util.Locale;

/**
 * How a tensor is held in 4 bits (bitsandbytes' {@code Linear4bit} settings): the code table, the
 * block size, and whether the absmax values are double-quantized.
 */
public record FourBitFormat(FourBitType type, int blocksize, boolean doubleQuant) {

  /** QLoRA's (and upstream Kaito's qlora template's): NF4, blocks of 64, double quantization. */
  public static final FourBitFormat QLORA =
      new FourBitFormat(FourBitType.NF4, FourBitQuantizer.DEFAULT_BLOCKSIZE, true);

  public FourBitFormat {
    if (!FourBitQuantizer.BLOCKSIZES.contains(blocksize)) {
      throw new IllegalArgumentException(
          "4-bit blocksize must be one of " + FourBitQuantizer.BLOCKSIZES + ", got " + blocksize);
    }
  }

  /** A quantizer fed a tensor of {@code numel} values chunk by chunk. */
  public FourBitQuantizer.Streaming streaming(int numel) {
    return new FourBitQuantizer.Streaming(numel, blocksize, type, doubleQuant);
  }

  /** For logs: {@code nf4/64+dq}. */
  @Override
  public String toString() {
    return type.name().toLowerCase(Locale.ROOT) + "/" + blocksize + (doubleQuant ? "+dq" : "");
  }
}
