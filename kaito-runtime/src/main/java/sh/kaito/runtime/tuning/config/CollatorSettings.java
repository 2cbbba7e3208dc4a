package sh.kaito.runtime.tuning.config;

/**
 * The {@code DataCollator} section (upstream's {@code cli.ExtDataCollator}, a transformers {@code
 * DataCollatorForLanguageModeling}). Upstream's templates set {@code mlm: true}, which upstream
 * turns off when the tokenizer has no mask token (every causal LM preset); kaito-runtime does the
 * same and trains causal LM only.
 *
 * @param mlmRequested whether the config asked for masked-LM (logged as turned off)
 * @param padToMultipleOf pad batches to a multiple of this length, or null
 */
public record CollatorSettings(boolean mlmRequested, Integer padToMultipleOf) {

  static CollatorSettings parse(Section s) {
    boolean mlm = s.bool("mlm", true);
    Integer multiple = s.optionalInteger("pad_to_multiple_of");
    if (multiple != null && multiple <= 0) {
      throw s.error("pad_to_multiple_of", "must be positive, got " + multiple);
    }
    s.oneOf("return_tensors", "pt", "batches are torch tensors", "pt");
    // Masked-LM options, without effect once mlm is off; the collator's seed only drives masking.
    s.noEffect(
        "mlm_probability",
        "mask_replace_prob",
        "random_replace_prob",
        "whole_word_mask",
        "tf_experimental_compile",
        "seed");
    s.onlyUnset("tokenizer", "the model's tokenizer is used");
    return new CollatorSettings(mlm, multiple);
  }
}
