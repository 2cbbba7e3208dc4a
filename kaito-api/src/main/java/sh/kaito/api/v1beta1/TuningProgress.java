package sh.kaito.api.v1beta1;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * {@code status.tuningProgress}: how far a tuning job has come. Not in upstream Kaito, which only
 * says whether the job started; we show the numbers a user watches.
 *
 * @param step optimizer steps done
 * @param totalSteps optimizer steps planned
 * @param epoch current epoch (fractional)
 * @param loss last training loss, as a decimal string (CRDs avoid floats)
 * @param tokensPerSecond training throughput, as a decimal string
 * @param etaSeconds estimated seconds until the job finishes
 * @param updateTime when these numbers were read (RFC 3339)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TuningProgress(
    Long step,
    Long totalSteps,
    String epoch,
    String loss,
    String tokensPerSecond,
    Long etaSeconds,
    String updateTime) {}
