#!/usr/bin/env bash
# Sourced by hack/test.sh. Downloads, once, the Debian packages listed in
# hack/images/base-packages.txt (apt-get download: Debian's mirrors only) and unpacks them with
# dpkg-deb -x into a root file system under $KAITO_CACHE. kaito-images turns that tree into the base
# layer of every image with jib-core (docs/images.md); nothing is ever pulled from a registry.
#
# The cache key is the package list's hash: a second run reuses the tree and takes milliseconds.
# The versions apt chose are written to packages.lock next to the tree (and into the image).
#
# The same is done for hack/images/curl-packages.txt (the kaito-curl image's own layer).
#
# Exports:
#   KAITO_BASE_ROOTFS  the unpacked tree (its packages.lock is beside it)
#   KAITO_CURL_ROOTFS  curl and its libraries, unpacked the same way

# kaito_unpack_packages LIST PREFIX: prints the unpacked tree of LIST's packages (cached by hash).
kaito_unpack_packages() {
  local list="$1" prefix="$2" hash dir debs pkg sudo_cmd
  hash="$(grep -v '^#' "$list" | sha256sum | cut -c1-12)"
  dir="${KAITO_CACHE:-$HOME/.cache/kaito-java}/base-image/$prefix$hash"
  if [ ! -f "$dir/done" ]; then
    echo "40-base-image: downloading and unpacking $(basename "$list") into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$dir/debs" "$dir/rootfs"
    if [ "$(id -u)" = "0" ]; then sudo_cmd=""; else sudo_cmd="sudo"; fi
    local pkgs
    pkgs="$(grep -v '^#' "$list" | grep -v '^$' | tr '\n' ' ')"
    # shellcheck disable=SC2086
    if ! (cd "$dir/debs" && apt-get download -q $pkgs >/dev/null 2>&1); then
      $sudo_cmd apt-get update -q >/dev/null 2>&1
      # shellcheck disable=SC2086
      (cd "$dir/debs" && apt-get download -q $pkgs >/dev/null) || {
        echo "40-base-image: apt-get download failed" >&2
        return 1
      }
    fi
    : >"$dir/packages.lock"
    for debs in "$dir"/debs/*.deb; do
      dpkg-deb -x "$debs" "$dir/rootfs" || return 1
      pkg="$(dpkg-deb -f "$debs" Package)=$(dpkg-deb -f "$debs" Version)"
      echo "$pkg" >>"$dir/packages.lock"
    done
    sort -o "$dir/packages.lock" "$dir/packages.lock"
    touch "$dir/done"
  fi
  echo "$dir/rootfs"
}

kaito_base_setup() {
  local root base curl
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  base="$(kaito_unpack_packages "$root/hack/images/base-packages.txt" "")" || return 1
  export KAITO_BASE_ROOTFS="$base"
  echo "40-base-image: KAITO_BASE_ROOTFS=$KAITO_BASE_ROOTFS ($(tr '\n' ' ' <"$base/../packages.lock"))"
  curl="$(kaito_unpack_packages "$root/hack/images/curl-packages.txt" "curl-")" || return 1
  export KAITO_CURL_ROOTFS="$curl"
  echo "40-base-image: KAITO_CURL_ROOTFS=$KAITO_CURL_ROOTFS"
}
kaito_base_setup || echo "40-base-image: the base image's packages are not available" >&2
unset -f kaito_base_setup kaito_unpack_packages
