# lib.sh - what the benchmark scripts share (sourced, never run): the strata
# binary and its plugins, a scratch directory W that goes at exit (mounts
# first), btrfs and ext4 file systems on loopback files, podman's set-up on this
# kind of machine, and the statistics.
#
# Environment: STRATA (default: the build's .libs/strata with its library
# path, so the libtool wrapper's own start-up is not measured), FIXTURES
# (default $STRATA_FIXTURES as for make check, else
# ${TMPDIR:-/tmp}/strata-fixtures), RUNS (default 5), BENCH_DIR
# (where W goes; default ${TMPDIR:-/tmp}).

set -u
srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNS=${RUNS:-5}
FIXTURES=${FIXTURES:-${STRATA_FIXTURES:-${TMPDIR:-/tmp}/strata-fixtures}}
BENCH=$(basename "$0" .sh)
export STRATA_CONFIG=/dev/null

[ "$(id -u)" = 0 ] || { echo "$BENCH: needs root (mounts, file owners)" >&2; exit 1; }
if [ -z "${STRATA:-}" ]; then
    if [ -x "$srcdir/.libs/strata" ]; then
        STRATA=$srcdir/.libs/strata
        export LD_LIBRARY_PATH=$srcdir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    else
        STRATA=$srcdir/strata
    fi
fi
[ -x "$STRATA" ] || { echo "$BENCH: no strata binary at $STRATA (build first)" >&2; exit 1; }
STRATA_PLUGIN_PATH=$(ls -d "$srcdir"/plugins/*/*/.libs 2>/dev/null | paste -sd: -)
export STRATA_PLUGIN_PATH
if [ ! -f "$FIXTURES/busybox/index.json" ]; then
    echo "building the fixtures in $FIXTURES ..."
    bash "$srcdir/tests/fixtures/mkoci.sh" "$FIXTURES" >/dev/null || exit 1
fi

W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/strata-bench.XXXXXX")
BENCH_EXIT_HOOKS=()
bench_cleanup() {
    local m h
    for h in ${BENCH_EXIT_HOOKS[@]+"${BENCH_EXIT_HOOKS[@]}"}; do "$h"; done
    for m in $(awk -v d="$W/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null
    done
    for m in "$W"/*.img; do
        [ -f "$m" ] && losetup -j "$m" -O NAME -n 2>/dev/null | xargs -r -n1 losetup -d 2>/dev/null
    done
    rm -rf --one-file-system "$W"
}
trap bench_cleanup EXIT

# loop_mount IMAGE DIR [OPTIONS]: mounts the file system in IMAGE on DIR
# through a loop device with direct I/O, so that the loop device writes
# straight to its file instead of through a second page cache: otherwise its
# kernel thread spends a core copying what earlier runs wrote, while the
# next run is timed.
loop_mount() {
    local dev
    dev=$(losetup -f --show --direct-io=on "$1" 2>/dev/null) || dev=$(losetup -f --show "$1") || return 1
    mount "$dev" "$2" || { losetup -d "$dev"; return 1; }
}

# btrfs_mount SIZE: a btrfs file system on a loopback file; BTRFS is its
# mount point, or empty (with a note) when it cannot be made.
btrfs_mount() {
    BTRFS=
    if command -v mkfs.btrfs >/dev/null && truncate -s "$1" "$W/btrfs.img" &&
        mkfs.btrfs -q "$W/btrfs.img" >/dev/null 2>&1 && mkdir -p "$W/btrfs" &&
        loop_mount "$W/btrfs.img" "$W/btrfs"; then
        BTRFS=$W/btrfs
    else
        echo "note: no btrfs loopback store (btrfs-progs, loop devices); btrfs is skipped"
    fi
}

# ext4_mount SIZE: a new ext4 file system on a loopback file, where the
# drivers that need no btrfs run: every engine starts from the same clean
# file system rather than from what earlier runs left behind (ext4 makes
# inodes several times slower for a few minutes after a large delete, which
# is what a benchmark's clean-up is).  EXT4 is its mount point, or W when
# it cannot be made.
ext4_mount() {
    EXT4=$W
    if command -v mkfs.ext4 >/dev/null && truncate -s "$1" "$W/ext4.img" &&
        mkfs.ext4 -q -F "$W/ext4.img" >/dev/null 2>&1 && mkdir -p "$W/ext4" &&
        loop_mount "$W/ext4.img" "$W/ext4"; then
        EXT4=$W/ext4
    else
        echo "note: no ext4 loopback file system; overlay and copy run in $W"
    fi
}

# podman on this machine: root lacks CAP_SYS_RESOURCE and the hard limit on
# open files is 20000, which podman's default ulimits exceed.
podman_setup() {
    HAVE_PODMAN=
    command -v podman >/dev/null || return 0
    cat > "$W/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
CONF
    export CONTAINERS_CONF=$W/containers.conf
    HAVE_PODMAN=1
}
# podman_cmd ROOT DRIVER -> the podman command line, in the array P
podman_cmd() {
    P=(podman --root "$1" --runroot "$1.run" --storage-driver "$2" --cgroup-manager cgroupfs
       --events-backend none)
}

now() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ms() { awk -v n="$1" 'BEGIN { printf "%.1f ms", n / 1e6 }'; }
secs() { awk -v n="$1" 'BEGIN { printf "%.2f s", n / 1e9 }'; }
kb() { awk -v n="$1" 'BEGIN { printf "%.0f KB", n / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
