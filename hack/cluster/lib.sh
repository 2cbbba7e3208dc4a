# shellcheck shell=bash
# Shared settings of the hack/cluster scripts. Sourced, never run.
#
# Versions are pinned so every machine builds the same binaries; the binaries live in the cache,
# keyed by these versions, never in the repository.

# k8s.io/kubernetes; its staging modules (k8s.io/api, ...) are taken at the matching v0.X.Y.
K8S_VERSION="${K8S_VERSION:-v1.36.3}"
# go.etcd.io/etcd/server/v3. Debian bookworm ships etcd 3.4.23, below the 3.4.29 / 3.5.11 minimum
# that Kubernetes >= 1.31 documents, so etcd is built from the proxy like the rest.
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
# sigs.k8s.io/kwok: fake nodes and pods (no container runtime can run here).
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"

KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
CP_CACHE="$KAITO_CACHE/controlplane"
# One folder per version triple, so bumping a version never mixes old and new binaries.
KAITO_KUBE_BIN="${KAITO_KUBE_BIN:-$CP_CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION}"

# Binaries a working control plane needs; `build` produces exactly these.
CP_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages.yaml)

# Stay on the installed Go: a module that needs a newer one must fail loudly, not download one.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# A real node's binaries (kubelet, kube-proxy), built by `build` into the same folder.
NODE_BINARIES=(kubelet kube-proxy)

node_binaries_present() {
  local b
  for b in "${NODE_BINARIES[@]}"; do
    [[ -s "$KAITO_KUBE_BIN/$b" ]] || return 1
  done
}

cp_log() { printf '[controlplane] %s\n' "$*" >&2; }

cp_binaries_present() {
  local b
  for b in "${CP_BINARIES[@]}"; do
    [[ -s "$KAITO_KUBE_BIN/$b" ]] || return 1
  done
}

# Where one running control plane keeps its state: pki/, logs/, pids/, data/, kubeconfig, env.
# Several can run side by side (other engineers, parallel test JVMs): each gets its own folder and
# its own free ports.
KAITO_CP_DIR="${KAITO_CP_DIR:-$CP_CACHE/run/default}"

# Start order; `down` stops them in reverse.
CP_PROCESSES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# True if the pid in $KAITO_CP_DIR/pids/<name>.pid is alive and still runs our binary (a pid
# number can be reused by an unrelated process after ours died; that one must never be killed).
cp_owned_pid() { # name -> prints pid
  local f="$KAITO_CP_DIR/pids/$1.pid" pid exe
  [[ -s "$f" ]] || return 1
  pid="$(<"$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  [[ "$exe" == "$(readlink -f "$(<"$KAITO_CP_DIR/pids/$1.exe")")" ]] || return 1
  echo "$pid"
}
