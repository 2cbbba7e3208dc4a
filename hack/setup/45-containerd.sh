#!/usr/bin/env bash
# Sourced by hack/test.sh. Installs runc, containerd and the CNI plugins from Debian (as
# ../shared/reference/real-node-recipe.md says: containerd 1.6, runc 1.1, plugins in /usr/lib/cni)
# without starting the package's containerd service, and builds our own pause binary (static Go,
# hack/images/pause) once into $KAITO_CACHE. kaito-images packs it as the sandbox image, so no
# containerd here ever pulls registry.k8s.io/pause. Tests start their own containerd with their own
# root, state and socket (kaito-images' Containerd), never the system one.
#
# Exports:
#   KAITO_CONTAINERD_BIN, KAITO_CTR_BIN, KAITO_RUNC_BIN  the binaries
#   KAITO_CNI_BIN_DIR                                    the CNI plugins' folder
#   KAITO_PAUSE_BIN                                      our static pause binary

kaito_containerd_setup() {
  local root sudo_cmd policy_added=0 hash out
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if [ "$(id -u)" = "0" ]; then sudo_cmd=""; else sudo_cmd="sudo"; fi
  if ! command -v containerd >/dev/null || ! command -v runc >/dev/null ||
    [ ! -x /usr/lib/cni/bridge ]; then
    echo "45-containerd: installing runc, containerd and containernetworking-plugins"
    # policy-rc.d stops the package from starting the system containerd service. hack/test.sh warms
    # the setup scripts side by side: wait for another apt-get's dpkg lock instead of failing.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
      $sudo_cmd chmod +x /usr/sbin/policy-rc.d
      policy_added=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends \
      runc containerd containernetworking-plugins >/dev/null 2>&1 ||
      { $sudo_cmd apt-get update -q >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends \
          runc containerd containernetworking-plugins >/dev/null; }
    if [ "$policy_added" = "1" ]; then $sudo_cmd rm -f /usr/sbin/policy-rc.d; fi
  fi
  hash="$(cat "$root/hack/images/pause/go.mod" "$root/hack/images/pause/main.go" |
    sha256sum | cut -c1-12)"
  out="${KAITO_CACHE:-$HOME/.cache/kaito-java}/pause/$hash/pause"
  if [ ! -x "$out" ]; then
    echo "45-containerd: building the pause binary"
    mkdir -p "$(dirname "$out")"
    (cd "$root/hack/images/pause" &&
      CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags '-s -w' -o "$out.tmp" .) &&
      mv "$out.tmp" "$out" || return 1
  fi
  export KAITO_CONTAINERD_BIN KAITO_CTR_BIN KAITO_RUNC_BIN
  KAITO_CONTAINERD_BIN="$(command -v containerd)"
  KAITO_CTR_BIN="$(command -v ctr)"
  KAITO_RUNC_BIN="$(command -v runc)"
  export KAITO_CNI_BIN_DIR=/usr/lib/cni
  export KAITO_PAUSE_BIN="$out"
  echo "45-containerd: containerd=$KAITO_CONTAINERD_BIN runc=$KAITO_RUNC_BIN pause=$KAITO_PAUSE_BIN"
}
kaito_containerd_setup || echo "45-containerd: containerd, runc or pause is not available" >&2
unset -f kaito_containerd_setup
