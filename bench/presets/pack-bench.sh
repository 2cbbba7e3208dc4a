#!/usr/bin/env bash
# Packs a 1 GB model-like directory (4 x 256 MiB incompressible shards + small files) into an OCI
# image and pushes it to a local docker-registry, with the kaito-presets CLI (jib-core). Compares
# with copying the same bytes with `cp`. Prints MB/s and the ratio; writes results.txt next to it.
#
# Usage: bench/presets/pack-bench.sh [SIZE_MIB]      (default 1024)
# Needs: docker-registry (hack/setup/20-registry.sh), a JDK, ./mvnw. Uses a temp dir it removes.
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mib="${1:-1024}"
shards=4
work="$(mktemp -d "${TMPDIR:-/tmp}/kaito-pack-bench.XXXXXX")"
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> building kaito-presets and its classpath"
./mvnw -B -q -o package -DskipTests -Dspotless.skip=true -pl kaito-presets -am \
  dependency:build-classpath -Dmdep.outputFile="$work/cp.txt" >/dev/null
cp="kaito-presets/target/classes:$(cat "$work/cp.txt")"
cli() { java -cp "$cp" sh.kaito.presets.cli.PresetsCli "$@"; }

echo "==> making a ${size_mib} MiB model directory"
mkdir -p "$work/model"
for i in $(seq 1 "$shards"); do
  head -c "$((size_mib / shards))M" /dev/urandom > "$work/model/model-0000$i-of-0000$shards.safetensors"
done
echo '{"num_hidden_layers": 32}' > "$work/model/config.json"
head -c 2M /dev/urandom | base64 > "$work/model/tokenizer.json"
bytes=$(du -sb "$work/model" | cut -f1)
sync

echo "==> starting docker-registry on 127.0.0.1"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry-data}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
"${KAITO_REGISTRY_BIN:-docker-registry}" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

now() { date +%s.%N; }
rate() { python3 -c "import sys; b,s=float(sys.argv[1]),float(sys.argv[2]); print(f'{b/1e6/s:.1f}')" "$1" "$2"; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "==> cp -r (same bytes, same disk), then sync"
t0=$(now); cp -r "$work/model" "$work/model-copy"; sync; t1=$(now)
cp_s=$(secs "$t0" "$t1"); rm -rf "$work/model-copy"

echo "==> push, cold layer cache"
t0=$(now)
cli push "$work/model" "127.0.0.1:$port/bench/model:cold" --cache "$work/cache" | tee "$work/push.txt"
t1=$(now); push_s=$(secs "$t0" "$t1")

echo "==> push --uncompressed (uncompressed OCI tar layers, our own pusher)"
t0=$(now)
cli push --uncompressed "$work/model" "127.0.0.1:$port/bench/raw:1" --cache "$work/cache-raw" | tee "$work/push2.txt"
t1=$(now); raw_s=$(secs "$t0" "$t1")

echo "==> pull (gzip image) into an empty directory, verifying digests"
t0=$(now)
cli pull "127.0.0.1:$port/bench/model:cold" "$work/pulled" --path /workspace/weights | tee "$work/pull.txt"
t1=$(now); pull_s=$(secs "$t0" "$t1")
diff -r "$work/model" "$work/pulled" && echo "pulled files are byte-identical"

echo "==> pull (uncompressed image)"
t0=$(now)
cli pull "127.0.0.1:$port/bench/raw:1" "$work/pulled-raw" --path /workspace/weights | tee "$work/pull2.txt"
t1=$(now); pull_raw_s=$(secs "$t0" "$t1")
diff -r "$work/model" "$work/pulled-raw" && echo "pulled files are byte-identical"

result=$(cat <<TXT
bytes=$bytes ($(python3 -c "print(f'{$bytes/1e9:.2f}')") GB), cores=$(nproc), load average before: $load
cp -r + sync:                 ${cp_s}s  $(rate "$bytes" "$cp_s") MB/s
push, jib-core (gzip layers): ${push_s}s  $(rate "$bytes" "$push_s") MB/s  $(python3 -c "print(f'{$push_s/$cp_s:.1f}')")x the time of cp
push --uncompressed:          ${raw_s}s  $(rate "$bytes" "$raw_s") MB/s  $(python3 -c "print(f'{$raw_s/$cp_s:.1f}')")x the time of cp
pull gzip image (verify):     ${pull_s}s  $(rate "$bytes" "$pull_s") MB/s
pull uncompressed (verify):   ${pull_raw_s}s  $(rate "$bytes" "$pull_raw_s") MB/s
(times include JVM start, about 0.5 s each)
TXT
)
echo "$result"
echo "$result" > bench/presets/results.txt
