#!/usr/bin/env bash
# Sourced by hack/test.sh. Ensures Debian's docker-registry (distribution 2.x) is installed, so the
# kaito-presets *IT tests can start their own registry on 127.0.0.1 with their own config and temp
# storage. The tests never use the package's system service or its /etc config.
#
# Exports:
#   KAITO_REGISTRY_BIN  path of the docker-registry binary (tests skip with a message when unset)

kaito_registry_bin="$(command -v docker-registry 2>/dev/null || true)"
if [ -z "$kaito_registry_bin" ] && [ -x /usr/bin/docker-registry ]; then
  kaito_registry_bin=/usr/bin/docker-registry
fi
if [ -z "$kaito_registry_bin" ]; then
  echo "20-registry: installing Debian docker-registry"
  if [ "$(id -u)" = "0" ]; then sudo_cmd=""; else sudo_cmd="sudo"; fi
  # --no-install-recommends keeps it small; policy-rc.d stops the package from starting its service.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
    $sudo_cmd chmod +x /usr/sbin/policy-rc.d
    kaito_registry_policy_added=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends \
    docker-registry >/dev/null 2>&1 ||
    { $sudo_cmd apt-get update -q >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends \
        docker-registry >/dev/null; }
  if [ "${kaito_registry_policy_added:-0}" = "1" ]; then $sudo_cmd rm -f /usr/sbin/policy-rc.d; fi
  unset kaito_registry_policy_added sudo_cmd
  kaito_registry_bin="$(command -v docker-registry 2>/dev/null || echo /usr/bin/docker-registry)"
fi
if [ -x "$kaito_registry_bin" ]; then
  export KAITO_REGISTRY_BIN="$kaito_registry_bin"
  echo "20-registry: KAITO_REGISTRY_BIN=$KAITO_REGISTRY_BIN"
else
  echo "20-registry: docker-registry is not available; registry *IT tests will fail" >&2
fi
unset kaito_registry_bin
