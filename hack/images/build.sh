#!/usr/bin/env bash
# Builds every Kaito image in one command (docs/images.md):
#   hack/images/build.sh --registry 127.0.0.1:5000/kaito --insecure [--tag T]
#   hack/images/build.sh --registry myacr.azurecr.io/kaito --docker-config ~/.docker/config.json
#   hack/images/build.sh --oci-dir target/images
# It sources the two setup scripts the images need (the unpacked Debian tree and the pause binary),
# packages the modules, then runs kaito-images' ImagesMain. Extra arguments go to ImagesMain.
set -euo pipefail
cd "$(dirname "$0")/../.."
export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
# shellcheck source=/dev/null
source hack/setup/40-base-image.sh >&2
# shellcheck source=/dev/null
source hack/setup/45-containerd.sh >&2
./mvnw -B -q -pl kaito-images -am package -DskipTests >&2
version="$(./mvnw -B -q help:evaluate -Dexpression=project.version -DforceStdout 2>/dev/null || true)"
[ -n "$version" ] || version=0.1.0-SNAPSHOT
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
cp="kaito-images/target/kaito-images-$version.jar:$(cat kaito-images/target/runtime-classpath.txt)"
exec java -cp "$cp" sh.kaito.images.ImagesMain --version-string "$version" --revision "$revision" \
  --repo-root . "$@"
