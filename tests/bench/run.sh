#!/bin/bash
# bench/run.sh - how long a container takes to run `true`, end to end.
#
#   strata run --rm busybox:1 true      with --isolation namespaces and chroot
#   podman run --rm --network=none      the same image, if podman is installed
#   crun run / runc run                 a bare OCI bundle of the same image
#                                       (umoci unpack), if installed
#   unshare -mpiun -f chroot ROOTFS true   the floor: namespaces + exec only
#
# Each is run N times (default 30) after 3 warm-up runs; the median and the
# ratios are printed.  Not part of `make check`: timings are not tests.
#
# Usage (as root, from the build tree, after `make`):
#   bash tests/bench/run.sh [N]
# Environment: STRATA (the strata binary; default the build tree's, run
# without its libtool wrapper), FIXTURES (mkoci.sh's output, built if
# missing), STRATA_STORAGE_DRIVER (default: strata's own choice).
set -u
N=${1:-30}
WARM=3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
FIXTURES=${FIXTURES:-${TMPDIR:-/tmp}/strata-fixtures}
export LC_ALL=C STRATA_CONFIG=/dev/null

[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
if [ -z "${STRATA:-}" ]; then
    # the libtool wrapper is a shell script: time the binary itself
    if [ -x "$top/.libs/strata" ]; then
        STRATA=$top/.libs/strata
        export LD_LIBRARY_PATH=$top/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    else
        STRATA=$top/strata
    fi
fi
[ -x "$STRATA" ] || { echo "bench: no strata binary at $STRATA (run make first)" >&2; exit 1; }
if [ -z "${STRATA_PLUGIN_PATH:-}" ] && ls -d "$top"/plugins/*/*/.libs >/dev/null 2>&1; then
    STRATA_PLUGIN_PATH=$(ls -d "$top"/plugins/*/*/.libs | paste -sd: -)
    export STRATA_PLUGIN_PATH
fi
if [ ! -f "$FIXTURES/busybox/index.json" ]; then
    echo "bench: building the fixture images in $FIXTURES" >&2
    bash "$top/tests/fixtures/mkoci.sh" "$FIXTURES" >/dev/null || exit 1
fi

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
cleanup() {
    local m
    for m in $(awk -v d="$TMPD/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null
    done
    [ -n "${PODMAN_ROOT:-}" ] && podman "${PODMAN_ARGS[@]}" system reset -f >/dev/null 2>&1
    rm -rf --one-file-system "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# time_cmd NAME CMD... : runs CMD WARM+N times; prints the median in ms
# (or why it could not run) and keeps it in MEDIAN[NAME].
declare -A MEDIAN
time_cmd() {
    local name=$1 i t0 t1 out
    shift
    if ! out=$("$@" 2>&1 </dev/null); then
        printf '%-44s failed: %s\n' "$name" "$(printf '%s\n' "$out" | tail -1)"
        return 1
    fi
    for ((i = 0; i < WARM; i++)); do "$@" >/dev/null 2>&1 </dev/null; done
    for ((i = 0; i < N; i++)); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 </dev/null
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n > "$TMPD/times"
    MEDIAN[$name]=$(awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }' "$TMPD/times")
    printf '%-44s %8s ms   (min %.1f, max %.1f, n=%d)\n' "$name" "${MEDIAN[$name]}" \
        "$(head -1 "$TMPD/times" | awk '{ print $1 / 1000 }')" "$(tail -1 "$TMPD/times" | awk '{ print $1 / 1000 }')" "$N"
}

# ratio A B : A's median over B's, or n/a
ratio() {
    if [ -n "${MEDIAN[$1]:-}" ] && [ -n "${MEDIAN[$2]:-}" ]; then
        awk -v a="${MEDIAN[$1]}" -v b="${MEDIAN[$2]}" 'BEGIN { printf "%.2f", a / b }'
    else
        echo n/a
    fi
}

echo "# $(uname -sr), $(nproc) CPUs; $N runs each after $WARM warm-up runs; medians"
ROOT=$TMPD/store
"$STRATA" --root "$ROOT" pull "oci:$FIXTURES/busybox:1" >/dev/null || { echo "bench: pull failed" >&2; exit 1; }
driver=$("$STRATA" --root "$ROOT" info 2>/dev/null | awk -F': *' '/^Storage Driver/ { print $2 }')
echo "# strata: $STRATA, storage driver ${driver:-?}"

S_NS="strata run --rm (namespaces)"
S_CH="strata run --rm (chroot)"
time_cmd "$S_NS" "$STRATA" --root "$ROOT" --isolation namespaces run --rm localhost/busybox:1 true
time_cmd "$S_CH" "$STRATA" --root "$ROOT" --isolation chroot run --rm localhost/busybox:1 true
time_cmd "strata create + start (namespaces)" sh -c \
    'id=$("$0" --root "$1" create localhost/busybox:1 true) && "$0" --root "$1" --isolation namespaces start -a "$id" && "$0" --root "$1" rm "$id"' \
    "$STRATA" "$ROOT"
echo "#   (create + start also removes the container, as run --rm does)"

# a bare OCI bundle of the same image
BUNDLE=$TMPD/bundle
P_FLOOR="unshare -mpiun -f chroot ROOTFS true"
if command -v umoci >/dev/null && umoci unpack --image "$FIXTURES/busybox:1" "$BUNDLE" >/dev/null 2>&1; then
    jq '.process.args = ["/bin/true"] | .process.terminal = false | .root.readonly = false' \
        "$BUNDLE/config.json" > "$BUNDLE/config.json.new" && mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
    time_cmd "$P_FLOOR" unshare -mpiun -f chroot "$BUNDLE/rootfs" /bin/true
    for rt in crun runc; do
        if command -v "$rt" >/dev/null; then
            time_cmd "$rt run (bare bundle)" sh -c 'cd "$1" && exec "$0" --root "$2" run "b$$"' \
                "$rt" "$BUNDLE" "$TMPD/$rt-state" ||
                { [ "$rt" = crun ] && grep -q . /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null &&
                    echo "#   (crun refuses the v1/v2 hybrid layout while a controller sits on its v2 mount: this script does not change the host's cgroups)"; }
        else
            printf '%-44s not installed\n' "$rt run (bare bundle)"
        fi
    done
else
    echo "# no OCI bundle (umoci unpack failed): no crun, runc or floor figures"
fi

# the backends alone: probe() + run() of /bin/true, no core, no storage
if [ -d "$BUNDLE/rootfs" ] && command -v cc >/dev/null &&
    cc -O2 -I"$top/include" -o "$TMPD/isolation-run" "$here/isolation-run.c" -ldl 2>"$TMPD/cc.err"; then
    for b in namespaces chroot; do
        so=$(ls "$top"/plugins/isolation/$b/.libs/isolation-$b.so 2>/dev/null)
        [ -n "$so" ] || continue
        read -r _ p _ r < <("$TMPD/isolation-run" "$so" "$BUNDLE/rootfs" "$N")
        printf '%-44s %8s ms   (probe %s ms + run %s ms; no core, no storage)\n' "backend $b alone" \
            "$(awk -v p="$p" -v r="$r" 'BEGIN { printf "%.1f", p + r }')" "$p" "$r"
    done
fi

P_PODMAN="podman run --rm --network=none"
if command -v podman >/dev/null; then
    # its own store and a containers.conf that does not ask for rlimits
    # above the hard limits (root here may lack CAP_SYS_RESOURCE)
    PODMAN_ROOT=$TMPD/podman
    nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
    [ "$nofile" = unlimited ] && nofile=1048576
    { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
    mkdir -p "$PODMAN_ROOT"
    cat > "$TMPD/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
    export CONTAINERS_CONF=$TMPD/containers.conf
    PODMAN_ARGS=(--root "$PODMAN_ROOT/root" --runroot "$PODMAN_ROOT/run" --tmpdir "$PODMAN_ROOT/tmp")
    # crun refuses the v1/v2 hybrid cgroup layout; runc takes it
    if [ -z "${PODMAN_RUNTIME:-}" ] && [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] &&
        command -v runc >/dev/null; then
        PODMAN_RUNTIME=runc
    fi
    [ -n "${PODMAN_RUNTIME:-}" ] && PODMAN_ARGS+=(--runtime "$PODMAN_RUNTIME")
    echo "# podman $(podman --version | awk '{ print $3 }'), runtime ${PODMAN_RUNTIME:-its default}, nofile=$nofile nproc=$nproc"
    if podman "${PODMAN_ARGS[@]}" pull -q "oci:$FIXTURES/busybox:1" >/dev/null 2>"$TMPD/podman.err"; then
        pimg=$(podman "${PODMAN_ARGS[@]}" images -q | head -1)
        time_cmd "$P_PODMAN" podman "${PODMAN_ARGS[@]}" run --rm --network=none "$pimg" true
    else
        printf '%-44s failed: %s\n' "$P_PODMAN" "$(tail -1 "$TMPD/podman.err")"
    fi
else
    printf '%-44s not installed\n' "$P_PODMAN"
fi

echo
echo "ratios (median / median):"
printf '  namespaces / chroot      %s\n' "$(ratio "$S_NS" "$S_CH")"
printf '  namespaces / podman      %s   (target <= 0.15)\n' "$(ratio "$S_NS" "$P_PODMAN")"
printf '  namespaces / crun        %s   (target <= 2)\n' "$(ratio "$S_NS" "crun run (bare bundle)")"
printf '  namespaces / runc        %s\n' "$(ratio "$S_NS" "runc run (bare bundle)")"
printf '  namespaces / floor       %s\n' "$(ratio "$S_NS" "$P_FLOOR")"
