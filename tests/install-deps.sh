#!/bin/bash
# Installs, with apt-get, everything strata's build, tests and demo need on
# Debian 12.  Safe to run again; does nothing when all is there.
set -euo pipefail

PACKAGES=(
    # build
    build-essential autoconf automake libtool pkg-config
    libltdl-dev libarchive-dev libjansson-dev libcurl4-openssl-dev libcap-dev
    libssl-dev zlib1g-dev libzstd-dev libisal-dev
    # unit tests; Go re-checks the template cases against text/template itself
    libcmocka-dev golang-go
    # fixtures and integration tests: images written by other tools
    umoci skopeo busybox-static jq tar procps debootstrap
    # storage driver tests: a btrfs loopback store; strace counts syncfs calls
    btrfs-progs strace
    # the oci-runtime isolation backend's tests
    runc
    # a real registry for the docker transport's tests: TLS, basic auth, a
    # token server and a fault-injecting proxy of our own (python3)
    docker-registry openssl apache2-utils python3 curl
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: these packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
