#!/usr/bin/env bash
# The README's test command.
#
# 1. Prepares what the tests need: every hack/setup/*.sh builds or reuses one cached thing (the
#    Kubernetes control plane, the OCI registry, the Python oracle virtualenv, ...) under
#    $KAITO_CACHE and exports where it is. On a cold machine they first run side by side (the
#    control-plane build is CPU-bound, the oracle install download-bound), then each is sourced in
#    name order, which is quick once its cache is warm, to export its variables here.
# 2. Runs every test tier: *Test (surefire), then *IT and *E2E (failsafe).
#
# Extra arguments go to Maven, e.g. `./hack/test.sh -pl kaito-api`.
set -euo pipefail
cd "$(dirname "$0")/.."

export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
logs="$KAITO_CACHE/setup-logs"
mkdir -p "$logs"

setups=(hack/setup/*.sh)
declare -A warmers=()
for setup in "${setups[@]}"; do
  [ -e "$setup" ] || continue
  # shellcheck source=/dev/null
  (source "$setup") >"$logs/$(basename "$setup").log" 2>&1 &
  warmers[$setup]=$!
done
for setup in "${!warmers[@]}"; do
  if ! wait "${warmers[$setup]}"; then
    echo "==> $setup failed while warming its cache; its log:" >&2
    cat "$logs/$(basename "$setup").log" >&2
  fi
done

for setup in "${setups[@]}"; do
  [ -e "$setup" ] || continue
  echo "==> $setup"
  # shellcheck source=/dev/null
  source "$setup"
done

./mvnw -B verify "$@"
