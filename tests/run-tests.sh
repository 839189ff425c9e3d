#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# needed, builds, runs `make check` (cmocka unit tests and the integration
# scripts that drive the real binary), then `make distcheck`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
bash tests/build.sh
status=0
make -j"$(nproc)" check || status=$?
# one closing line for whoever reads only the end
if [ -f test-suite.log ]; then
    pass=$(sed -n 's/^# PASS: *//p' test-suite.log | head -1)
    fail=$(sed -n 's/^# FAIL: *//p' test-suite.log | head -1)
    errs=$(sed -n 's/^# ERROR: *//p' test-suite.log | head -1)
    skip=$(sed -n 's/^# SKIP: *//p' test-suite.log | head -1)
fi
# show what failed, since CI keeps only the output
for log in tests/unit/*.log tests/integration/*.log; do
    [ -f "$log" ] || continue
    case $(tail -1 "$log") in
        *"exit status: 0"* | *"exit status: 77"*) ;;
        *) echo "==== $log"; tail -60 "$log" ;;
    esac
done
if [ "$status" -ne 0 ]; then
    echo "tests: ${pass:-0} passed, $(( ${fail:-0} + ${errs:-0} )) failed, ${skip:-0} skipped"
    exit "$status"
fi
if [ "${STRATA_SKIP_DISTCHECK:-}" != 1 ]; then
    make -j"$(nproc)" distcheck >/tmp/strata-distcheck.log 2>&1 || {
        tail -80 /tmp/strata-distcheck.log; exit 1; }
    grep -E "archives ready for distribution|^strata-.*tar.gz" /tmp/strata-distcheck.log | head -3
fi
echo "tests: ${pass:-0} passed, $(( ${fail:-0} + ${errs:-0} )) failed, ${skip:-0} skipped"
