#!/usr/bin/env bash
# Serving throughput and time to first token at several concurrency levels: `kaito-runtime serve`
# against HF transformers serving the same weights with the same thread count, in one run.
#
#   bench/serving/run.sh [SIZE] [THREADS]     SIZE: 100m (default, ~100M parameters) or tiny
#
# Environment: LEVELS (concurrency levels, default "1,8,32"), WAVES (waves of LEVEL requests per
# level, default 2), PROMPT (longest prompt, default 64 tokens; prompts are PROMPT/2..PROMPT),
# NEW (tokens generated per request, default 32, EOS ignored).
#
# Three sides, each on the same prompts (random token ids, one seed): `kaito` is the real server
# (its own JVM, streaming /v1/completions, one client thread per concurrent request); `hf_pipeline`
# is classic Kaito's serving model, an HF text-generation pipeline answering one request at a time;
# `hf_batch` runs each wave as one statically padded batch through HF generate(). For each level it
# prints aggregate output tokens/s, p50/p99 time to first token, and the ratios kaito/hf. Results
# also go to $KAITO_CACHE/bench-serving/results-SIZE-THREADS.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE="${1:-100m}"
THREADS="${2:-2}"
LEVELS="${LEVELS:-1,8,32}"
WAVES="${WAVES:-2}"
PROMPT="${PROMPT:-64}"
NEW="${NEW:-32}"
export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
# shellcheck source=/dev/null
source hack/setup/30-python-oracle.sh >/dev/null
WORK="$KAITO_CACHE/bench-serving"
MODEL="$WORK/llama-$SIZE"
mkdir -p "$WORK"
export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"
PY=(bench/serving/bench_serving.py)
LOAD=(--levels "$LEVELS" --waves "$WAVES" --prompt "$PROMPT" --new "$NEW")

"$KAITO_ORACLE_PYTHON" "${PY[@]}" make --out "$MODEL" --size "$SIZE"
VOCAB="$("$KAITO_ORACLE_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$MODEL/config.json")"
./mvnw -q -B -pl kaito-runtime -am -DskipTests -Dspotless.apply.skip=true \
  -Dmdep.outputFile="$WORK/classpath.txt" -Dmdep.includeScope=runtime \
  package dependency:build-classpath >/dev/null

RESULTS="$WORK/results-$SIZE-$THREADS.txt"
: >"$RESULTS"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(getconf _NPROCESSORS_ONLN) cores)"

# The server, as the StatefulSet runs it, on a free port; the queue holds the largest wave.
PORT="$("$KAITO_ORACLE_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
QUEUE="$(tr ',' '\n' <<<"$LEVELS" | sort -n | tail -1)"
java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="$THREADS" \
  -Dai.djl.pytorch.num_interop_threads=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "kaito-runtime/target/classes:$(cat "$WORK/classpath.txt")" sh.kaito.runtime.cli.RuntimeMain \
  serve --weights "$MODEL" --served-model-name bench --host 127.0.0.1 --port "$PORT" \
  --max-queue "$QUEUE" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER" 2>/dev/null; then cat "$WORK/server.log" >&2; exit 1; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null || { echo "server not healthy after 120 s" >&2; cat "$WORK/server.log" >&2; exit 1; }
"$KAITO_ORACLE_PYTHON" "${PY[@]}" client --url "http://127.0.0.1:$PORT" --vocab "$VOCAB" \
  "${LOAD[@]}" | tee -a "$RESULTS"
curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -E '^vllm:(time_to_first_token_seconds|e2e_request_latency_seconds)_(sum|count)' \
  >"$WORK/metrics.txt" || true
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
trap - EXIT

for mode in pipeline batch; do
  "$KAITO_ORACLE_PYTHON" "${PY[@]}" hf --model "$MODEL" --mode "$mode" --threads "$THREADS" \
    "${LOAD[@]}" 2>/dev/null | grep --line-buffered '^side=' | tee -a "$RESULTS"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

awk -v size="$SIZE" -v threads="$THREADS" -v new="$NEW" -v levels="$LEVELS" '
  function val(key,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) return kv[2] } }
  { side = val("side"); c = val("concurrency")
    tok[side, c] = val("out_tok_s"); p50[side, c] = val("ttft_p50_s"); p99[side, c] = val("ttft_p99_s") }
  END {
    printf "size=%s threads=%s new=%s\n", size, threads, new
    printf "%-5s %12s %12s %12s %9s %9s %10s %10s %10s\n", "conc", "kaito_tok_s", "pipe_tok_s", "batch_tok_s",
      "vs_pipe", "vs_batch", "kaito_p50", "pipe_p50", "batch_p50"
    n = split(levels, order, ",")
    for (i = 1; i <= n; i++) { c = order[i]
      printf "%-5s %12.1f %12.1f %12.1f %9.2f %9.2f %10.3f %10.3f %10.3f\n", c, tok["kaito", c],
        tok["hf_pipeline", c], tok["hf_batch", c], tok["kaito", c] / tok["hf_pipeline", c],
        tok["kaito", c] / tok["hf_batch", c], p50["kaito", c], p50["hf_pipeline", c], p50["hf_batch", c]
      printf "      ttft p99: kaito %.3f pipeline %.3f batch %.3f\n", p99["kaito", c], p99["hf_pipeline", c], p99["hf_batch", c] } }' "$RESULTS"
