#!/usr/bin/env bash
# Engine throughput against HF transformers on the same weights and thread count, in one run.
#
#   bench/runtime/run.sh [SIZE] [THREADS]     SIZE: 100m (default, ~100M parameters) or tiny
#
# Prints prefill tokens/s (one 128-token prompt) and batch-1 decode tokens/s (64 greedy tokens)
# for both, and the ratio java/hf. Both run fp32 on CPU with THREADS intra-op threads. The two
# sides alternate for ROUNDS rounds (each round: one warm-up and REPEATS timed runs per side, the
# best kept), so load from other processes on a shared machine hits both alike; the summary gives
# the best and the median of the rounds. Each side also reports tokens per second of process CPU time,
# which other processes' load disturbs much less than wall time (at 1 thread it is the cleanest
# comparison on a busy machine; with more threads it includes the threads' spin-waiting).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE="${1:-100m}"
THREADS="${2:-2}"
PROMPT="${PROMPT:-128}"
NEW="${NEW:-64}"
REPEATS="${REPEATS:-3}"
ROUNDS="${ROUNDS:-4}"
export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
# shellcheck source=/dev/null
source hack/setup/30-python-oracle.sh >/dev/null
WORK="$KAITO_CACHE/bench-runtime"
MODEL="$WORK/llama-$SIZE"
mkdir -p "$WORK"
export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"

"$KAITO_ORACLE_PYTHON" bench/runtime/bench_hf.py make --out "$MODEL" --size "$SIZE"
./mvnw -q -B -pl kaito-runtime -am -DskipTests -Dspotless.apply.skip=true \
  -Dmdep.outputFile="$WORK/classpath.txt" -Dmdep.includeScope=runtime \
  package dependency:build-classpath >/dev/null

RESULTS="$WORK/results-$SIZE-$THREADS.txt"
: >"$RESULTS"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(getconf _NPROCESSORS_ONLN) cores)"
for round in $(seq "$ROUNDS"); do
  "$KAITO_ORACLE_PYTHON" bench/runtime/bench_hf.py time --model "$MODEL" --threads "$THREADS" \
    --prompt "$PROMPT" --new "$NEW" --repeats "$REPEATS" 2>/dev/null | grep '^hf ' | tee -a "$RESULTS"
  java -Dai.djl.offline=true -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "kaito-runtime/target/classes:$(cat "$WORK/classpath.txt")" \
    sh.kaito.runtime.bench.EngineBench "$MODEL" "$THREADS" "$PROMPT" "$NEW" "$REPEATS" 2>/dev/null \
    | grep '^java ' | tee -a "$RESULTS"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v size="$SIZE" -v threads="$THREADS" '
  function val(key,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) return kv[2] } }
  function median(side, m,   n, i, j, t, a) {
    n = cnt[side]; for (i = 1; i <= n; i++) a[i] = v[side, m, i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  function best(side, m,   i, b) { for (i = 1; i <= cnt[side]; i++) if (v[side, m, i] > b) b = v[side, m, i]; return b }
  BEGIN { split("prefill_tok_s decode_tok_s prefill_cpu_tok_s decode_cpu_tok_s", keys, " ") }
  { side = $1; n = ++cnt[side]; for (k = 1; k <= 4; k++) v[side, keys[k], n] = val(keys[k]) }
  END {
    for (s = 1; s <= 2; s++) {
      stat = s == 1 ? "best" : "median"
      for (k = 1; k <= 4; k++) {
        h[k] = stat == "best" ? best("hf", keys[k]) : median("hf", keys[k])
        j[k] = stat == "best" ? best("java", keys[k]) : median("java", keys[k]) }
      printf "%-6s hf   prefill_tok_s=%.1f decode_tok_s=%.1f prefill_cpu_tok_s=%.1f decode_cpu_tok_s=%.1f\n", stat, h[1], h[2], h[3], h[4]
      printf "%-6s java prefill_tok_s=%.1f decode_tok_s=%.1f prefill_cpu_tok_s=%.1f decode_cpu_tok_s=%.1f\n", stat, j[1], j[2], j[3], j[4]
      printf "ratio java/hf (%s of %d rounds) size=%s threads=%s prefill=%.2f decode=%.2f (per CPU second: prefill=%.2f decode=%.2f)\n",
        stat, cnt["java"], size, threads, j[1] / h[1], j[2] / h[2], j[3] / h[3], j[4] / h[4] } }' "$RESULTS"
