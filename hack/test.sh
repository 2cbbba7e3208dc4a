#!/usr/bin/env bash
# The README's test command.
#
# 1. Sources every hack/setup/*.sh in name order. Each prepares one thing the tests need (a cached
#    build of the Kubernetes control plane, the Python oracle virtualenv, the OCI registry, ...) and
#    exports where it is. Each is idempotent and fast the second time.
# 2. Runs every test tier: *Test (surefire), then *IT and *E2E (failsafe).
#
# Extra arguments go to Maven, e.g. `./hack/test.sh -pl kaito-api`.
set -euo pipefail
cd "$(dirname "$0")/.."

export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
mkdir -p "$KAITO_CACHE"

for setup in hack/setup/*.sh; do
  [ -e "$setup" ] || continue
  echo "==> $setup"
  # shellcheck source=/dev/null
  source "$setup"
done

./mvnw -B verify "$@"
