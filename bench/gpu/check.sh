#!/usr/bin/env bash
# The GPU check (README.md): packs what the GPU machine needs - a jlink'ed Java 17 runtime, the
# engine's jars, run.sh, check.py and the oracle's model maker - into one file of at most 64 MiB,
# and runs it.
#
#   bench/gpu/check.sh --device cpu      pack, unpack into a temp folder and run it here, on the CPU,
#                                        with the Python oracle's venv as "the machine's" python
#   bench/gpu/check.sh --pack-only       pack only; then, with the device tool:
#       run(command="mkdir -p /tmp/k && tar xzf bench/gpu/pack/kaito-gpu-check.tar.gz -C /tmp/k &&
#                    /tmp/k/run.sh --device cuda", carry=["bench/gpu/pack"], timeout_s=480)
set -euo pipefail
cd "$(dirname "$0")/../.."
DEVICE=cpu
PACK_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --pack-only) PACK_ONLY=1; shift ;;
    *) echo "usage: bench/gpu/check.sh [--device cpu|cuda] [--pack-only]" >&2; exit 2 ;;
  esac
done
LIMIT=$((64 * 1024 * 1024))
export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
start=$(date +%s)

./mvnw -q -B -pl kaito-runtime -am package -DskipTests >&2
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/lib"
# The engine's jars only: no server, CLI, registry or template libraries, no libtorch (the target's
# own torch/lib is used) and the tokenizers jar left out (the check feeds token ids).
keep='^(kaito-runtime|api|pytorch-engine|pytorch-jni|gson|jna|slf4j-api|slf4j-simple|jackson-(core|databind|annotations))-[0-9]'
for jar in kaito-runtime/target/kaito-runtime-*.jar $(tr ':' '\n' <kaito-runtime/target/runtime-classpath.txt); do
  name="$(basename "$jar")"
  case "$name" in *-tests.jar|*-sources.jar) continue ;; esac
  if [[ "$name" =~ $keep ]]; then cp "$jar" "$STAGE/lib/"; fi
done
# Only linux-x86_64's JNI builds: the aarch64 one is dead weight there.
(cd "$STAGE/lib" && zip -q -d pytorch-jni-*.jar 'jnilib/linux-aarch64/*' >/dev/null || true)
unzip -p "$STAGE"/lib/pytorch-jni-*.jar jnilib/pytorch.properties | sed -n 's/^jni_version=\([0-9.]*\)-.*/\1/p' \
  >"$STAGE/JNI_TORCH_VERSION"
modules="$(jdeps --ignore-missing-deps --multi-release 17 --print-module-deps "$STAGE"/lib/*.jar)"
jlink --add-modules "$modules,jdk.crypto.ec,jdk.unsupported" --strip-debug --no-header-files \
  --no-man-pages --compress=2 --output "$STAGE/jre"
cp bench/gpu/run.sh bench/gpu/check.py bench/runtime/bench_hf.py \
  kaito-runtime/src/test/python/oracle.py "$STAGE/"
mkdir -p bench/gpu/pack
PACK=bench/gpu/pack/kaito-gpu-check.tar.gz
tar czf "$PACK" -C "$STAGE" .
size=$(stat -c %s "$PACK")
echo "== pack $PACK bytes=$size ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB of 64; jre modules: $modules)"
if [ "$size" -gt "$LIMIT" ]; then
  echo "gpu-check result=FAIL reason=pack-over-64MiB" >&2
  exit 1
fi
if [ "$PACK_ONLY" = 1 ]; then
  exit 0
fi
# shellcheck source=/dev/null
source hack/setup/30-python-oracle.sh >/dev/null
RUN="$STAGE/run"
mkdir -p "$RUN"
tar xzf "$PACK" -C "$RUN"
"$RUN/run.sh" --device "$DEVICE" --python "$KAITO_ORACLE_PYTHON"
echo "== check.sh seconds=$(($(date +%s) - start)) (packing included)"
