#!/usr/bin/env bash
# Engine throughput against HF transformers on the same weights and thread count, in one run.
#
#   bench/runtime/run.sh [SIZE] [THREADS]     SIZE: 100m (default, ~100M parameters) or tiny
#
# Prints prefill tokens/s (one 128-token prompt) and batch-1 decode tokens/s (64 greedy tokens)
# for both, and the ratio java/hf. Both run fp32 on CPU with THREADS intra-op threads. The two
# sides alternate for ROUNDS rounds and each keeps its best, so load from other processes on a
# shared machine hits both alike. Each side also reports tokens per second of process CPU time,
# which other processes' load disturbs much less than wall time (at 1 thread it is the cleanest
# comparison on a busy machine; with more threads it includes the threads' spin-waiting).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE="${1:-100m}"
THREADS="${2:-2}"
PROMPT="${PROMPT:-128}"
NEW="${NEW:-64}"
REPEATS="${REPEATS:-2}"
ROUNDS="${ROUNDS:-3}"
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
  { side = $1; p = val("prefill_tok_s"); d = val("decode_tok_s")
    cp = val("prefill_cpu_tok_s"); cd = val("decode_cpu_tok_s")
    if (p > bp[side]) bp[side] = p; if (d > bd[side]) bd[side] = d
    if (cp > bcp[side]) bcp[side] = cp; if (cd > bcd[side]) bcd[side] = cd }
  END {
    printf "best hf   prefill_tok_s=%.1f decode_tok_s=%.1f prefill_cpu_tok_s=%.1f decode_cpu_tok_s=%.1f\n",
      bp["hf"], bd["hf"], bcp["hf"], bcd["hf"]
    printf "best java prefill_tok_s=%.1f decode_tok_s=%.1f prefill_cpu_tok_s=%.1f decode_cpu_tok_s=%.1f\n",
      bp["java"], bd["java"], bcp["java"], bcd["java"]
    printf "ratio java/hf size=%s threads=%s prefill=%.2f decode=%.2f (per CPU second: prefill=%.2f decode=%.2f)\n",
      size, threads, bp["java"] / bp["hf"], bd["java"] / bd["hf"],
      bcp["java"] / bcp["hf"], bcd["java"] / bcd["hf"] }' "$RESULTS"
