#!/usr/bin/env bash
# The Python oracle (HF transformers + peft on CPU) that kaito-runtime's ITs and bench compare against.
# Sourced by hack/test.sh. Creates, or reuses, a virtualenv under $KAITO_CACHE keyed by the hash of
# hack/oracle/requirements.txt, and exports KAITO_ORACLE_PYTHON (the SmolLM2 GGUF the ITs also
# read comes from 25-smollm2.sh). Cold: ~7-8 min (≈3 GB of wheels); warm: well under a second.
_kaito_oracle_setup() {
  local root req hash venv py
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  req="$root/hack/oracle/requirements.txt"
  hash="$(sha256sum "$req" | cut -c1-12)"
  venv="${KAITO_CACHE:-$HOME/.cache/kaito-java}/oracle-venv-$hash"
  py="${KAITO_PYTHON:-python3}"
  if [ ! -f "$venv/.kaito-complete" ]; then
    echo "python-oracle: creating $venv (cold install of torch/transformers/peft)"
    rm -rf "$venv"
    "$py" -m venv "$venv" || return 1
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" || return 1
    "$venv/bin/python" -c "import torch, transformers, peft, trl, datasets, bitsandbytes" || return 1
    touch "$venv/.kaito-complete"
  fi
  export KAITO_ORACLE_PYTHON="$venv/bin/python"
  echo "python-oracle: KAITO_ORACLE_PYTHON=$KAITO_ORACLE_PYTHON"
}
_kaito_oracle_setup || { echo "python-oracle: setup failed" >&2; return 1 2>/dev/null || exit 1; }
unset -f _kaito_oracle_setup
