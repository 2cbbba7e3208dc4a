#!/usr/bin/env bash
# The README's first command: builds what exists and runs the main job on its embedded default.
#
# Today the main job is the offline check of the examples, the seed's tuning workspace first,
# with the admission webhook's rules and messages (kaito-api). It needs no cluster, cloud or GPU.
# Later issues make this run the real flow (controller, local control plane, runtime).
set -euo pipefail
cd "$(dirname "$0")/.."

./mvnw -B -q -DskipTests -pl examples -am package \
  dependency:build-classpath -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime
classpath="examples/target/classes:$(cat examples/target/classpath.txt)"

java -cp "$classpath" sh.kaito.examples.ValidateWorkspace --report \
  examples/fine-tuning/kaito_workspace_tuning_phi_3.yaml \
  $(ls examples/fine-tuning/*.yaml examples/inference/*.yaml | grep -v kaito_workspace_tuning_phi_3.yaml)
