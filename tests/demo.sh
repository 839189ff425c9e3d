#!/bin/bash
# The main job, from a fresh Debian 12 machine: install what is needed,
# build strata, build a fixture image with umoci (the embedded default: an
# OCI image layout on this machine), then pull it, list it, run it, show its
# history, and clean up.  Uses its own store, /var/tmp/strata-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
bash tests/build.sh

FIXTURES=${STRATA_FIXTURES:-/var/tmp/strata-fixtures}
ROOT=${STRATA_DEMO_ROOT:-/var/tmp/strata-demo}
bash tests/fixtures/mkoci.sh "$FIXTURES" >/dev/null
STRATA_PLUGIN_PATH=$(ls -d "$PWD"/plugins/*/*/.libs | paste -sd: -)
export STRATA_PLUGIN_PATH
rm -rf "$ROOT"
strata() { echo "\$ strata $*" >&2; ./strata --root "$ROOT" "$@"; }

strata pull "oci:$FIXTURES/busybox:1"
strata images
strata history busybox:1
strata run --rm busybox:1
strata run --name demo busybox:1 sh -c 'echo "hello from $(hostname)"; ls /data'
strata ps -a
strata rm demo
strata rmi busybox:1
strata info | sed -n '/^Plugins:/,$p'
