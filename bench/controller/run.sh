#!/usr/bin/env bash
# bench/controller: N Workspaces applied at once -> time until every workload (StatefulSet) exists,
# workspaces/s, and the controller's peak RSS. The controller runs in its own JVM (-Xmx128m by
# default) against the real local control plane; nodes are bring-your-own (one shared kwok GPU
# node) so the number measures the controller, not a node provisioner.
#
#   bench/controller/run.sh [WORKSPACES] [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-500}"
workers="${2:-8}"
./mvnw -B -q -o verify -pl kaito-controller -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test=ControllerBenchIT -Dkaito.bench=true -Dkaito.bench.workspaces="$n" \
  -Dkaito.bench.workers="$workers" >/dev/null
result="$(cat kaito-controller/target/bench-controller-result.txt)"
echo "$(date -u +%FT%TZ) $(nproc)cpu $result" | tee -a bench/controller/results.txt
