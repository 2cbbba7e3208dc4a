# shellcheck shell=bash
# Sourced by hack/test.sh. Builds (first time, tens of minutes) or reuses the Kubernetes control
# plane binaries in $KAITO_CACHE and exports where they are. The *IT tests start the control plane
# themselves (kaito-test-support, @WithControlPlane), once per test JVM, unless KUBECONFIG is set.
#
# Exports: KAITO_KUBE_BIN  folder with etcd, kube-apiserver, kube-controller-manager,
#                          kube-scheduler, kubectl, kwok and kwok-stages.yaml
KAITO_KUBE_BIN="$(KAITO_CACHE="$KAITO_CACHE" hack/cluster/build)"
export KAITO_KUBE_BIN
