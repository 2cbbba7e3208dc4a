#!/usr/bin/env bash
# LoRA training throughput and peak memory against TRL SFTTrainer + PEFT, same model, data shape and
# thread count, in one run.
#
#   bench/tuning/run.sh [THREADS]
#
# A ~100M-parameter Llama (bench/runtime's model), random sequences of SEQ (256) tokens, batch BATCH
# (4), upstream's default LoRA (r 8, alpha 8, q_proj/v_proj), fp32 on CPU. Each side is a fresh
# process that trains STEPS (3) optimizer steps (forward + backward + AdamW) and times all but the
# first; the sides alternate for ROUNDS (2) rounds so other load hits both alike. Prints training
# tokens/s (wall and per CPU second) and peak RSS per side, medians over rounds and the ratios
# java/trl.
#
# Then (QLORA=1, the default) the QLoRA rows: a ~0.46B random Llama (bench_trl.py --make), LoRA and
# QLoRA (NF4 + double quantization) on both sides, QSEQ (128) tokens, QBATCH (2), QSTEPS (2), one
# process each: peak RSS QLoRA/LoRA per side and tokens/s of all four. ROUNDS=0 runs only these.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS="${1:-2}"
SEQ="${SEQ:-256}"
BATCH="${BATCH:-4}"
STEPS="${STEPS:-3}"
ROUNDS="${ROUNDS:-2}"
export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
# shellcheck source=/dev/null
source hack/setup/30-python-oracle.sh >/dev/null
WORK="$KAITO_CACHE/bench-runtime"
MODEL="$WORK/llama-100m"
mkdir -p "$WORK"
export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"

"$KAITO_ORACLE_PYTHON" bench/runtime/bench_hf.py make --out "$MODEL" --size 100m
./mvnw -q -B -pl kaito-runtime -am -DskipTests -Dspotless.apply.skip=true \
  -Dmdep.outputFile="$WORK/classpath.txt" -Dmdep.includeScope=runtime \
  package dependency:build-classpath >/dev/null

RESULTS="$WORK/tuning-results-$THREADS.txt"
: >"$RESULTS"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(getconf _NPROCESSORS_ONLN) cores)"
for round in $(seq "$ROUNDS"); do
  "$KAITO_ORACLE_PYTHON" bench/tuning/bench_trl.py --model "$MODEL" --threads "$THREADS" \
    --seq "$SEQ" --batch "$BATCH" --steps "$STEPS" 2>/dev/null | grep '^trl ' | tee -a "$RESULTS"
  java -Dai.djl.offline=true -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "kaito-runtime/target/classes:$(cat "$WORK/classpath.txt")" \
    sh.kaito.runtime.bench.TuneBench "$MODEL" "$THREADS" "$SEQ" "$BATCH" "$STEPS" 2>/dev/null \
    | grep '^java ' | tee -a "$RESULTS"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$ROUNDS" -gt 0 ] && awk -v threads="$THREADS" '
  function val(key,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) return kv[2] } }
  function median(side, m,   n, i, j, t, a) {
    n = cnt[side]; for (i = 1; i <= n; i++) a[i] = v[side, m, i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  BEGIN { split("tokens_s cpu_tokens_s peak_rss_mib", keys, " ") }
  { side = $1; n = ++cnt[side]; for (k = 1; k <= 3; k++) v[side, keys[k], n] = val(keys[k]) }
  END {
    for (k = 1; k <= 3; k++) { t[k] = median("trl", keys[k]); j[k] = median("java", keys[k]) }
    printf "median trl  tokens_s=%.1f cpu_tokens_s=%.1f peak_rss_mib=%.0f\n", t[1], t[2], t[3]
    printf "median java tokens_s=%.1f cpu_tokens_s=%.1f peak_rss_mib=%.0f\n", j[1], j[2], j[3]
    printf "ratio java/trl (median of %d rounds) threads=%s tokens_s=%.2f cpu_tokens_s=%.2f peak_rss=%.2f\n",
      cnt["java"], threads, j[1] / t[1], j[2] / t[2], j[3] / t[3] }' "$RESULTS"

[ "${QLORA:-1}" = 1 ] || exit 0
QSEQ="${QSEQ:-128}"
QBATCH="${QBATCH:-2}"
QSTEPS="${QSTEPS:-2}"
HALF="$WORK/llama-half-b"
"$KAITO_ORACLE_PYTHON" bench/tuning/bench_trl.py --make "$HALF"
QRESULTS="$WORK/qlora-results-$THREADS.txt"
: >"$QRESULTS"
echo "qlora rows: load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in lora qlora; do
  flag=""; [ "$mode" = qlora ] && flag="--qlora"
  "$KAITO_ORACLE_PYTHON" bench/tuning/bench_trl.py --model "$HALF" --threads "$THREADS" \
    --seq "$QSEQ" --batch "$QBATCH" --steps "$QSTEPS" $flag 2>/dev/null | grep '^trl' | tee -a "$QRESULTS"
  java -Dai.djl.offline=true -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "kaito-runtime/target/classes:$(cat "$WORK/classpath.txt")" \
    sh.kaito.runtime.bench.TuneBench "$HALF" "$THREADS" "$QSEQ" "$QBATCH" "$QSTEPS" "$mode" 2>/dev/null \
    | grep '^java' | tee -a "$QRESULTS"
done
echo "qlora rows: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
  function val(key,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) return kv[2] } }
  { rss[$1] = val("peak_rss_mib"); tps[$1] = val("tokens_s") }
  END {
    printf "qlora/lora peak RSS: java %.2f (%s / %s MiB), trl %.2f (%s / %s MiB)\n",
      rss["java-qlora"] / rss["java"], rss["java-qlora"], rss["java"],
      rss["trl-qlora"] / rss["trl"], rss["trl-qlora"], rss["trl"]
    printf "tokens/s: java lora %s, java qlora %s, trl lora %s, trl qlora %s\n",
      tps["java"], tps["java-qlora"], tps["trl"], tps["trl-qlora"] }' "$QRESULTS"
