#!/usr/bin/env bash
# bench/controller: N Workspaces applied at once -> time until every workload (StatefulSet) exists,
# workspaces/s, and the controller's peak RSS. The controller runs in its own JVM (-Xmx128m by
# default) against the real local control plane; nodes are bring-your-own (one shared kwok GPU
# node) so the number measures the controller, not a node provisioner.
#
# Then the peer in the same run: the same writes made directly by a plain client (vs_direct), and
# the controller's live heap (jcmd GC.class_histogram: after start, at the end, bytes/workspace).
#
#   bench/controller/run.sh [WORKSPACES] [WORKERS]     e.g. 5000 8 for the 5,000-workspace run
#   KAITO_BENCH_JVM_ARGS="-XX:NativeMemoryTracking=summary" bench/controller/run.sh 300
#     (extra controller JVM flags, after the deployed ones; NMT's summary lands in
#     kaito-controller/target/bench-controller-nmt.txt, the heap histograms next to it)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-500}"
workers="${2:-8}"
log="$(mktemp)"
# -am: the modules it depends on are built from this tree (their tests skipped), not taken from ~/.m2.
if ! ./mvnw -B -o verify -pl kaito-controller -am -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test=ControllerBenchIT -Dfailsafe.failIfNoSpecifiedTests=false -Dkaito.bench=true \
  -Dkaito.bench.workspaces="$n" -Dkaito.bench.workers="$workers" \
  ${KAITO_BENCH_JVM_ARGS:+"-Dkaito.controller.jvmArgs=$KAITO_BENCH_JVM_ARGS"} >"$log" 2>&1; then
  tail -60 "$log"
  echo "bench/controller: the build or the bench failed (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
result="$(cat kaito-controller/target/bench-controller-result.txt)"
echo "$(date -u +%FT%TZ) $(nproc)cpu $result" | tee -a bench/controller/results.txt
