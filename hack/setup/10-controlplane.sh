# shellcheck shell=bash
# Sourced by hack/test.sh. Builds (first time, tens of minutes) or reuses the Kubernetes control
# plane binaries in $KAITO_CACHE and exports where they are. The *IT tests start the control plane
# themselves (kaito-test-support, @WithControlPlane), once per test JVM, unless KUBECONFIG is set.
#
# Exports: KAITO_KUBE_BIN        folder with etcd, kube-apiserver, kube-controller-manager,
#                                kube-scheduler, kubectl, kwok, kwok-stages.yaml, kubelet, kube-proxy
#          KAITO_KUBELET_BIN     the kubelet of real nodes (same Kubernetes version as the API server)
#          KAITO_KUBE_PROXY_BIN  kube-proxy, for Service ClusterIPs on real nodes
KAITO_KUBE_BIN="$(KAITO_CACHE="$KAITO_CACHE" hack/cluster/build)"
export KAITO_KUBE_BIN
export KAITO_KUBELET_BIN="$KAITO_KUBE_BIN/kubelet"
export KAITO_KUBE_PROXY_BIN="$KAITO_KUBE_BIN/kube-proxy"
