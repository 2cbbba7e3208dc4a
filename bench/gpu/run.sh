#!/usr/bin/env bash
# The entry point inside the pack that bench/gpu/check.sh makes (see README.md): runs on the target
# machine with its own python3, torch and transformers, and our jlink'ed Java runtime and jars.
#
#   ./run.sh [--device cuda|cpu] [--python PYTHON] [--bench-size 100m|tiny]
#
# 1. HF makes four tiny models (llama, mistral, qwen2, phi3) and their logits and greedy tokens on
#    the device (fp16 on cuda, fp32 on cpu);
# 2. our engine loads the same models through DJL, with the machine's own libtorch (torch/lib, via
#    PYTORCH_LIBRARY_PATH) and the JNI library of pytorch-jni matched by PYTORCH_FLAVOR, and writes
#    its logits and tokens;
# 3. the two are compared; then both time batch-1 greedy decode on one model;
# 4. one summary line: "gpu-check device=... result=ok|FAIL ...".
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DEVICE=cuda
PY=python3
BENCH_SIZE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --python) PY="$2"; shift 2 ;;
    --bench-size) BENCH_SIZE="$2"; shift 2 ;;
    *) echo "usage: run.sh [--device cuda|cpu] [--python PYTHON] [--bench-size 100m|tiny]" >&2; exit 2 ;;
  esac
done
[ -n "$BENCH_SIZE" ] || { [ "$DEVICE" = cpu ] && BENCH_SIZE=tiny || BENCH_SIZE=100m; }
start=$(date +%s)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

TORCH_LIB="$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')" || {
  echo "gpu-check device=$DEVICE result=FAIL reason=no-torch-in-$PY"; exit 1; }
TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__)')"
JNI_TORCH="$(cat "$HERE/JNI_TORCH_VERSION")"
# pytorch-jni carries JNI builds for cpu and cu128 only: a CUDA libtorch gets the cu128 one.
if [ "$DEVICE" = cpu ]; then FLAVOR=cpu; else FLAVOR=cu128; fi
export PYTORCH_LIBRARY_PATH="$TORCH_LIB" PYTORCH_FLAVOR="$FLAVOR" DJL_CACHE_DIR="$WORK/djl"
export DJL_DEFAULT_ENGINE=PyTorch
JAVA=("$HERE/jre/bin/java" -Dai.djl.offline=true -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
  -cp "$HERE/lib/*" sh.kaito.runtime.bench.DeviceCheck --device "$DEVICE")

echo "== machine: torch=$TORCH_VERSION (JNI built for $JNI_TORCH) device=$DEVICE flavor=$FLAVOR"
"$PY" "$HERE/check.py" make --out "$WORK/cases" --device "$DEVICE" || {
  echo "gpu-check device=$DEVICE result=FAIL reason=hf-make-failed"; exit 1; }
java_ok=1
"${JAVA[@]}" "$WORK"/cases/* | tee "$WORK/java.log" || java_ok=0
parity_lines="$("$PY" "$HERE/check.py" compare --out "$WORK/cases" --device "$DEVICE")"
parity_rc=$?
echo "$parity_lines"

"$PY" "$HERE/bench_hf.py" make --out "$WORK/bench" --size "$BENCH_SIZE" >/dev/null
hf_bench="$("$PY" "$HERE/check.py" bench --model "$WORK/bench" --device "$DEVICE" --new 64 --repeats 3)"
echo "$hf_bench"
java_bench=""
if [ "$java_ok" = 1 ]; then
  java_bench="$("${JAVA[@]}" --bench "$WORK/bench" 64 3 | grep '^bench ')"
  echo "$java_bench"
fi
rate() { sed -n 's/.*decode_tok_s=\([0-9.]*\).*/\1/p' <<<"$1"; }
hf_rate="$(rate "$hf_bench")"; java_rate="$(rate "$java_bench")"
ratio="$(awk -v j="${java_rate:-0}" -v h="${hf_rate:-0}" 'BEGIN { if (h > 0) printf "%.2f", j / h; else print "n/a" }')"
ok_cases="$(grep -c 'result=ok' <<<"$parity_lines")"
result=ok
if [ "$java_ok" != 1 ] || [ "$parity_rc" != 0 ]; then result=FAIL; fi
reason=""
if [ "$java_ok" != 1 ]; then reason=" reason=\"$(grep -m1 '^error=' "$WORK/java.log" | cut -c7-200)\""; fi
echo "gpu-check device=$DEVICE result=$result parity=$ok_cases/4 torch=$TORCH_VERSION jni_torch=$JNI_TORCH" \
  "hf_decode_tok_s=${hf_rate:-n/a} java_decode_tok_s=${java_rate:-n/a} java/hf=$ratio" \
  "bench_model=$BENCH_SIZE seconds=$(($(date +%s) - start))$reason"
[ "$result" = ok ]
