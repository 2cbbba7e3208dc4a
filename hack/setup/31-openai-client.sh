#!/usr/bin/env bash
# The official OpenAI Python client (openai + pydantic + httpx, no torch) that kaito-runtime's
# RealClientsIT drives the server with. Sourced by hack/test.sh. A small virtualenv of its own under
# $KAITO_CACHE, keyed by the hash of hack/oracle/client-requirements.txt, so that adding it did not
# rebuild the oracle's; exports KAITO_OPENAI_PYTHON. Cold: ~10 s; warm: well under a second.
_kaito_openai_client_setup() {
  local root req hash venv py
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  req="$root/hack/oracle/client-requirements.txt"
  hash="$(sha256sum "$req" | cut -c1-12)"
  venv="${KAITO_CACHE:-$HOME/.cache/kaito-java}/openai-client-venv-$hash"
  py="${KAITO_PYTHON:-python3}"
  if [ ! -f "$venv/.kaito-complete" ]; then
    echo "openai-client: creating $venv"
    rm -rf "$venv"
    "$py" -m venv "$venv" || return 1
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" || return 1
    "$venv/bin/python" -c "import openai" || return 1
    touch "$venv/.kaito-complete"
  fi
  export KAITO_OPENAI_PYTHON="$venv/bin/python"
  echo "openai-client: KAITO_OPENAI_PYTHON=$KAITO_OPENAI_PYTHON"
}
_kaito_openai_client_setup || { echo "openai-client: setup failed" >&2; return 1 2>/dev/null || exit 1; }
unset -f _kaito_openai_client_setup
