#!/bin/bash
# Configures and builds strata in the source tree (once; later runs only
# rebuild what changed).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x configure ] || ./autogen.sh >/dev/null
[ -f Makefile ] || ./configure -q
make -j"$(nproc)" >/dev/null
