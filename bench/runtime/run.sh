#!/usr/bin/env bash
# Engine throughput against HF transformers on the same weights and thread count, in one run.
#
#   bench/runtime/run.sh [SIZE] [THREADS]     SIZE: 100m (default, ~100M parameters) or tiny
#
# Prints prefill tokens/s (one 128-token prompt) and batch-1 decode tokens/s (64 greedy tokens)
# for both, and the ratio java/hf. Both run fp32 on CPU with THREADS intra-op threads.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE="${1:-100m}"
THREADS="${2:-2}"
PROMPT="${PROMPT:-128}"
NEW="${NEW:-64}"
REPEATS="${REPEATS:-3}"
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

HF=$("$KAITO_ORACLE_PYTHON" bench/runtime/bench_hf.py time --model "$MODEL" --threads "$THREADS" \
  --prompt "$PROMPT" --new "$NEW" --repeats "$REPEATS" 2>/dev/null | grep '^hf ')
JAVA=$(java -Dai.djl.offline=true -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "kaito-runtime/target/classes:$(cat "$WORK/classpath.txt")" \
  sh.kaito.runtime.bench.EngineBench "$MODEL" "$THREADS" "$PROMPT" "$NEW" "$REPEATS" 2>/dev/null \
  | grep '^java ')
echo "$HF"
echo "$JAVA"
field() { echo "$1" | sed -E "s/.*$2=([0-9.]+).*/\1/"; }
awk -v jp="$(field "$JAVA" prefill_tok_s)" -v hp="$(field "$HF" prefill_tok_s)" \
    -v jd="$(field "$JAVA" decode_tok_s)" -v hd="$(field "$HF" decode_tok_s)" -v size="$SIZE" \
    'BEGIN { printf "ratio java/hf size=%s prefill=%.2f decode=%.2f\n", size, jp / hp, jd / hd }'
