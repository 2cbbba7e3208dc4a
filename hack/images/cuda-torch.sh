#!/usr/bin/env bash
# Makes (once, cached) the Python site-packages folder the -cuda runtime image takes its libtorch
# from: torch 2.7.1 from PyPI (its Linux wheel is the CUDA 12.6 build) with its nvidia-* libraries,
# the version DJL 0.36's JNI library is built for. Prints the folder. About 4 GB; not part of CI.
#
#   ./mvnw -Pcuda -pl kaito-images -am package -DskipTests \
#     -Dimages.registry=myacr.azurecr.io/kaito -Dcuda.torch.site="$(hack/images/cuda-torch.sh)"
set -euo pipefail
KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
venv="$KAITO_CACHE/cuda-torch-2.7.1"
if [ ! -f "$venv/.complete" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==2.7.1" >&2
  touch "$venv/.complete"
fi
"$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
