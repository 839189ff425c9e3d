#!/bin/bash
# The main job, from a fresh Debian 12 machine: install what is needed,
# build strata, build fixture images with umoci and skopeo, serve them from a
# real registry on 127.0.0.1 (Debian's docker-registry: the embedded
# default), then pull, list, show the history, run, and clean up, the way a
# Docker user would.  Uses its own store (/var/tmp/strata-demo) and config.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
bash tests/build.sh

WORK=${STRATA_DEMO_DIR:-/var/tmp/strata-demo}
FIXTURES=${STRATA_FIXTURES:-/var/tmp/strata-fixtures}
ROOT=$WORK/root
bash tests/fixtures/mkoci.sh "$FIXTURES" >/dev/null

# a local registry with the fixture images
bash tests/fixtures/registry.sh stop "$WORK/registry" >/dev/null 2>&1 || true
trap 'bash tests/fixtures/registry.sh stop "$WORK/registry" >/dev/null 2>&1 || true' EXIT
rm -rf "$WORK"; mkdir -p "$WORK"
PORT=$(bash tests/fixtures/registry.sh start "$WORK/registry" http | tail -1)
REG=127.0.0.1:$PORT
skopeo copy -q --dest-tls-verify=false "oci:$FIXTURES/busybox:1" "docker://$REG/busybox:1"
skopeo copy -q --dest-tls-verify=false --all "oci:$FIXTURES/multi:1" "docker://$REG/multi:1"
printf '{"insecure-registries": ["%s"]}\n' "$REG" > "$WORK/config.json"

export STRATA_CONFIG=$WORK/config.json
STRATA_PLUGIN_PATH=$(ls -d "$PWD"/plugins/*/*/.libs | paste -sd: -)
export STRATA_PLUGIN_PATH
strata() { echo "\$ strata $*" >&2; ./strata --root "$ROOT" "$@"; }

strata pull "$REG/busybox:1"
strata images
strata history "$REG/busybox:1"
strata run --rm "$REG/busybox:1"
strata run --name demo "$REG/busybox:1" sh -c 'echo "hello from $(hostname), pid $$"; ls /data'
strata run --rm "$REG/multi:1" cat /etc/arch
strata ps -a
strata rm demo
strata rmi "$REG/busybox:1" "$REG/multi:1"
strata info | sed -n '/^Storage Driver/p;/^Plugins:/,$p'
