#!/bin/bash
# storage.sh - a small benchmark of the storage drivers (not part of make check).
#
# For each driver (overlay, btrfs on a loopback file, copy), times a cold
# pull of the busybox:1 fixture and `create` of a container from it, and
# measures the disk each container costs; then the same with podman on the
# matching driver (overlay/overlay, btrfs/btrfs, copy/vfs) when podman is
# installed.  Figures are medians of RUNS runs (default 5).
#
#   sudo bash tests/bench/storage.sh            (after a build: ./autogen.sh && ./configure && make)
#
# Environment: see tests/bench/lib.sh (STRATA, FIXTURES, RUNS, BENCH_DIR).
. "$(dirname "$0")/lib.sh"
btrfs_mount 2G

# What a container adds to the store.  du counts each inode once; on btrfs
# du cannot see what snapshots share (and -x stops at each subvolume), so
# there the file system's own count of used bytes is compared instead.
usage() {
    if [ "$(stat -f -c %T "$1")" = btrfs ]; then
        sync -f "$1"
        btrfs filesystem sync "$1" >/dev/null 2>&1
        stat -f -c '%S %b %f' "$1" | awk '{ print $1 * ($2 - $3) }'
    else
        du -s -B1 "$1" 2>/dev/null | cut -f1
    fi
}

# ---------------------------------------------------------------- strata
bench_strata() { # DRIVER BASE
    local d=$1 base=$2 i t0 t1 root pulls=() creates=() before after id
    for i in $(seq "$RUNS"); do
        root=$base/strata-$d-$i
        t0=$(now)
        "$STRATA" --root "$root" --storage-driver "$d" pull "oci:$FIXTURES/busybox:1" >/dev/null || return 1
        t1=$(now); pulls+=($((t1 - t0)))
        t0=$(now)
        "$STRATA" --root "$root" --storage-driver "$d" create localhost/busybox:1 >/dev/null || return 1
        t1=$(now); creates+=($((t1 - t0)))
    done
    root=$base/strata-$d-1
    before=$(usage "$root/storage/$d/containers")
    for i in $(seq 10); do
        id=$("$STRATA" --root "$root" --storage-driver "$d" create localhost/busybox:1) || return 1
    done
    after=$(usage "$root/storage/$d/containers")
    printf '%-8s strata  pull %-10s create %-10s per container %s\n' "$d" \
        "$(ms "$(printf '%s\n' "${pulls[@]}" | median)")" \
        "$(ms "$(printf '%s\n' "${creates[@]}" | median)")" "$(kb $(((after - before) / 10)))"
    for i in $(seq "$RUNS"); do
        "$STRATA" --root "$base/strata-$d-$i" --storage-driver "$d" rm -f $("$STRATA" --root "$base/strata-$d-$i" ps -a -q --no-trunc) >/dev/null 2>&1
        "$STRATA" --root "$base/strata-$d-$i" --storage-driver "$d" rmi -f localhost/busybox:1 >/dev/null 2>&1
    done
}

# ---------------------------------------------------------------- podman
bench_podman() { # DRIVER BASE
    local d=$1 base=$2 i t0 t1 root run pulls=() creates=() before after p
    for i in $(seq "$RUNS"); do
        root=$base/podman-$d-$i run=$base/podman-run-$d-$i
        p=(podman --root "$root" --runroot "$run" --storage-driver "$d" --cgroup-manager cgroupfs --events-backend none)
        t0=$(now)
        "${p[@]}" pull -q "oci:$FIXTURES/busybox:1" >/dev/null 2>&1 || { echo "$d: podman pull failed"; return 1; }
        t1=$(now); pulls+=($((t1 - t0)))
        t0=$(now)
        "${p[@]}" create localhost/busybox:1 >/dev/null 2>&1 || "${p[@]}" create "$("${p[@]}" images -q | head -1)" >/dev/null 2>&1 || { echo "$d: podman create failed"; return 1; }
        t1=$(now); creates+=($((t1 - t0)))
    done
    root=$base/podman-$d-1 run=$base/podman-run-$d-1
    p=(podman --root "$root" --runroot "$run" --storage-driver "$d" --cgroup-manager cgroupfs --events-backend none)
    before=$(usage "$root")
    for i in $(seq 10); do "${p[@]}" create "$("${p[@]}" images -q | head -1)" >/dev/null 2>&1; done
    after=$(usage "$root")
    printf '%-8s podman  pull %-10s create %-10s per container %s\n' "$d" \
        "$(ms "$(printf '%s\n' "${pulls[@]}" | median)")" \
        "$(ms "$(printf '%s\n' "${creates[@]}" | median)")" "$(kb $(((after - before) / 10)))"
    for i in $(seq "$RUNS"); do
        podman --root "$base/podman-$d-$i" --runroot "$base/podman-run-$d-$i" --storage-driver "$d" \
            rm -af >/dev/null 2>&1
        podman --root "$base/podman-$d-$i" --runroot "$base/podman-run-$d-$i" --storage-driver "$d" \
            rmi -af >/dev/null 2>&1
    done
}

echo "strata storage benchmark: busybox:1 fixture (4 layers, $(du -sh "$FIXTURES/busybox" | cut -f1)), median of $RUNS runs"
echo "strata: $STRATA"
bench_strata overlay "$W"
[ -n "$BTRFS" ] && bench_strata btrfs "$BTRFS"
bench_strata copy "$W"

if command -v podman >/dev/null; then
    echo "podman: $(podman --version)"
    bench_podman overlay "$W"
    [ -n "$BTRFS" ] && bench_podman btrfs "$BTRFS"
    bench_podman vfs "$W"
else
    echo "podman is not installed: no comparison (apt-get install podman to get one)"
fi
