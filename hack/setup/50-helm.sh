#!/usr/bin/env bash
# Sourced by hack/test.sh. Builds helm from the Go module proxy once (go install, pinned version)
# into $KAITO_CACHE, like hack/cluster builds the control plane. kaito-images' InstallIT renders
# charts/kaito-java with it (helm template: no cluster access); nothing else uses it.
#
# Exports:
#   KAITO_HELM_BIN  the helm binary

kaito_helm_setup() {
  local version="${KAITO_HELM_VERSION:-v3.19.5}" dir
  dir="${KAITO_CACHE:-$HOME/.cache/kaito-java}/helm/$version"
  if [ ! -x "$dir/helm" ]; then
    echo "50-helm: building helm $version from the Go module proxy (a few minutes, once)"
    mkdir -p "$dir"
    GOTOOLCHAIN=local GOBIN="$dir/.tmp" CGO_ENABLED=0 \
      nice go install -trimpath -ldflags '-s -w' "helm.sh/helm/v3/cmd/helm@$version" || return 1
    mv "$dir/.tmp/helm" "$dir/helm" && rmdir "$dir/.tmp"
  fi
  export KAITO_HELM_BIN="$dir/helm"
  echo "50-helm: KAITO_HELM_BIN=$KAITO_HELM_BIN"
}
kaito_helm_setup || echo "50-helm: helm is not available; the Helm install IT will fail" >&2
unset -f kaito_helm_setup
