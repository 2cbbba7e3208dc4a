#!/usr/bin/env bash
# The README's first command: the seed document's flow on this machine, no cloud and no GPU.
#
#   1. Builds the project, and the first time only the Kubernetes control plane from the Go module
#      proxy (cached in $KAITO_CACHE; tens of minutes cold, instant afterwards).
#   2. Checks the example workspaces offline with the admission webhook's rules.
#   3. Starts kube-apiserver, etcd, controller-manager, scheduler and kwok on 127.0.0.1 and
#      installs the Workspace and NodeClaim CRDs.
#   4. Runs our NodeClaim provisioner (fake GPU nodes from the Azure SKU table) and the Workspace
#      controller, as two local processes.
#   5. Applies the seed's tuning workspace unchanged and follows its conditions until
#      WORKSPACEREADY and INFERENCEREADY are True, then prints what the seed shows
#      (`kubectl get workspace`, `kubectl get svc`) and the objects behind it.
#   6. Stops everything it started (also on Ctrl-C or failure).
#
# kwok simulates the pods: the tuning Job completes at once and no model is really served, so
# the seed's final `curl /chat` is not part of this run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
export KAITO_CP_DIR="${KAITO_CP_DIR:-$KAITO_CACHE/controlplane/run/quickstart}"
run="$KAITO_CP_DIR-processes"
seed=examples/fine-tuning/kaito_workspace_tuning_phi_3.yaml

step() { printf '\n==> %s\n' "$*"; }

step "building kaito-java"
./mvnw -B -q -DskipTests -pl examples,kaito-controller,kaito-provisioner -am package \
  dependency:build-classpath -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime
classpath() { echo "$repo/$1/target/classes:$(cat "$repo/$1/target/classpath.txt")"; }

step "checking the examples offline (the webhook's rules and messages)"
java -cp "$(classpath examples)" sh.kaito.examples.ValidateWorkspace --report \
  "$seed" $(ls examples/fine-tuning/*.yaml examples/inference/*.yaml | grep -v "$seed") |
  grep -E '^(===|-->|    |[0-9]+ file)' || true

step "building or reusing the Kubernetes control plane (cold: tens of minutes, once)"
KAITO_KUBE_BIN="$(hack/cluster/build)"
export KAITO_KUBE_BIN

pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  hack/cluster/down >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ]; then
    echo "quickstart failed; process logs in $run, control-plane logs in $KAITO_CP_DIR/logs" >&2
  fi
  exit "$status"
}
trap cleanup EXIT INT TERM

step "starting the control plane on 127.0.0.1"
hack/cluster/up >/dev/null
# shellcheck source=/dev/null
source "$KAITO_CP_DIR/env"
mkdir -p "$run"
kubectl apply --server-side -f kaito-api/src/main/resources/crds/ >/dev/null
kubectl wait --for condition=established --timeout=60s \
  crd/workspaces.kaito.sh crd/nodeclaims.karpenter.sh >/dev/null

step "starting the NodeClaim provisioner (fake GPU nodes) and the Workspace controller"
java -cp "$(classpath kaito-provisioner)" sh.kaito.provisioner.ProvisionerMain \
  --provider=fake --kubeconfig="$KUBECONFIG" --health-port=0 >"$run/provisioner.log" 2>&1 &
pids+=($!)
KAITO_LEADER_ELECT=false KAITO_WEBHOOK_PORT=0 KAITO_METRICS_PORT=0 KAITO_HEALTH_PORT=0 \
  KAITO_BIND_ADDRESS=127.0.0.1 \
  java -cp "$(classpath kaito-controller)" sh.kaito.controller.OperatorMain \
  >"$run/controller.log" 2>&1 &
pids+=($!)

step "kubectl apply -f $seed"
kubectl apply -f "$seed"

step "following the workspace (kubectl get workspace, every few seconds)"
deadline=$((SECONDS + ${KAITO_QUICKSTART_TIMEOUT:-300}))
last=""
while :; do
  table="$(kubectl get workspace workspace-tuning-phi-3 2>&1 || true)"
  if [ "$table" != "$last" ]; then
    echo "$table" | sed 's/^/  /'
    last="$table"
  fi
  ready="$(kubectl get workspace workspace-tuning-phi-3 -o \
    jsonpath='{.status.conditions[?(@.type=="WorkspaceReady")].status}/{.status.conditions[?(@.type=="InferenceReady")].status}')"
  [ "$ready" = "True/True" ] && break
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "a kaito process exited; its log:" >&2
      tail -n 40 "$run"/*.log >&2
      exit 1
    fi
  done
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "the workspace did not become ready in time; conditions:" >&2
    kubectl get workspace workspace-tuning-phi-3 -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2
    exit 1
  fi
  sleep 2
done

step "what the seed document shows"
echo "\$ kubectl get workspace workspace-tuning-phi-3"
kubectl get workspace workspace-tuning-phi-3
echo
echo "\$ kubectl get svc workspace-tuning-phi-3"
kubectl get svc workspace-tuning-phi-3

step "the objects behind it"
kubectl get nodeclaims,nodes -o wide 2>/dev/null | cut -c1-150 || true
kubectl get jobs,statefulsets,pods -o wide 2>/dev/null | cut -c1-150 || true
kubectl get workspace workspace-tuning-phi-3 -o wide

step "done: stopping the controller, the provisioner and the control plane"
