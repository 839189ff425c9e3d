#!/bin/bash
# storage.sh - a benchmark of the storage drivers (not part of make check).
#
# For each driver (overlay, btrfs on a loopback file, copy), times a cold
# pull of a fixture image from its OCI layout and `create` of a container
# from it, and measures the disk each container costs (10 containers); then
# the same with podman on the matching driver (overlay/overlay,
# btrfs/btrfs, copy/vfs) when podman is installed, and prints the
# strata/podman ratios.  Figures are medians of RUNS runs (default 5).
#
#   sudo bash tests/bench/storage.sh             busybox:1 (4 small layers)
#   sudo IMAGE=debian bash tests/bench/storage.sh   debian:12 (debootstrap, 63 MB gzip)
#
# (after a build: ./autogen.sh && ./configure && make).  The registry pull
# of the same images is measured by tests/bench/pull.sh.
# Environment: see tests/bench/lib.sh (STRATA, FIXTURES, RUNS, BENCH_DIR).
. "$(dirname "$0")/lib.sh"
btrfs_mount 4G
ext4_mount 16G
podman_setup
case ${IMAGE:-busybox} in
busybox) LAYOUT=busybox TAG=1 ;;
debian)
    LAYOUT=debian TAG=12
    [ -f "$FIXTURES/debian/index.json" ] || bash "$srcdir/tests/fixtures/mkdebian.sh" "$FIXTURES" >/dev/null || exit 1 ;;
*) echo "IMAGE is busybox or debian" >&2; exit 2 ;;
esac
SRC=oci:$FIXTURES/$LAYOUT:$TAG NAME=localhost/$LAYOUT:$TAG
declare -A FIG   # "strata overlay pull" -> nanoseconds, "... disk" -> bytes

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
        "$STRATA" --root "$root" --storage-driver "$d" pull -q "$SRC" >/dev/null || return 1
        t1=$(now); pulls+=($((t1 - t0)))
        t0=$(now)
        "$STRATA" --root "$root" --storage-driver "$d" create "$NAME" >/dev/null || return 1
        t1=$(now); creates+=($((t1 - t0)))
    done
    root=$base/strata-$d-1
    before=$(usage "$root/storage/$d/containers")
    for i in $(seq 10); do
        id=$("$STRATA" --root "$root" --storage-driver "$d" create "$NAME") || return 1
    done
    after=$(usage "$root/storage/$d/containers")
    record strata "$d" "${pulls[*]}" "${creates[*]}" $(((after - before) / 10))
    for i in $(seq "$RUNS"); do
        "$STRATA" --root "$base/strata-$d-$i" --storage-driver "$d" rm -f $("$STRATA" --root "$base/strata-$d-$i" ps -a -q --no-trunc) >/dev/null 2>&1
        "$STRATA" --root "$base/strata-$d-$i" --storage-driver "$d" rmi -f "$NAME" >/dev/null 2>&1
    done
}

# ---------------------------------------------------------------- podman
bench_podman() { # DRIVER BASE
    local d=$1 base=$2 i t0 t1 pulls=() creates=() before after
    for i in $(seq "$RUNS"); do
        podman_cmd "$base/podman-$d-$i" "$d"
        t0=$(now)
        "${P[@]}" pull -q "$SRC" >/dev/null 2>&1 || { echo "$d: podman pull failed"; return 1; }
        t1=$(now); pulls+=($((t1 - t0)))
        t0=$(now)
        "${P[@]}" create "$("${P[@]}" images -q | head -1)" >/dev/null 2>&1 || { echo "$d: podman create failed"; return 1; }
        t1=$(now); creates+=($((t1 - t0)))
    done
    podman_cmd "$base/podman-$d-1" "$d"
    before=$(usage "$base/podman-$d-1")
    for i in $(seq 10); do "${P[@]}" create "$("${P[@]}" images -q | head -1)" >/dev/null 2>&1; done
    after=$(usage "$base/podman-$d-1")
    record podman "$d" "${pulls[*]}" "${creates[*]}" $(((after - before) / 10))
    for i in $(seq "$RUNS"); do
        podman_cmd "$base/podman-$d-$i" "$d"
        "${P[@]}" rm -af >/dev/null 2>&1
        "${P[@]}" rmi -af >/dev/null 2>&1
    done
}

# record ENGINE DRIVER "PULLS" "CREATES" BYTES: prints a line, keeps the medians
record() {
    local p c
    p=$(printf '%s\n' $3 | median) c=$(printf '%s\n' $4 | median)
    FIG["$1 $2 pull"]=$p FIG["$1 $2 create"]=$c FIG["$1 $2 disk"]=$5
    printf '%-8s %-7s pull %-10s create %-10s per container %s\n' "$2" "$1" "$(secs "$p")" "$(ms "$c")" "$(kb "$5")"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }

echo "strata storage benchmark: $NAME ($(du -sh "$FIXTURES/$LAYOUT" | cut -f1) layout), median of $RUNS runs"
echo "strata: $STRATA"
bench_strata overlay "$EXT4"
[ -n "$BTRFS" ] && bench_strata btrfs "$BTRFS"
bench_strata copy "$EXT4"

if [ -n "$HAVE_PODMAN" ]; then
    echo "podman: $(podman --version)"
    bench_podman overlay "$EXT4"
    [ -n "$BTRFS" ] && bench_podman btrfs "$BTRFS"
    bench_podman vfs "$EXT4"
    echo "ratios strata/podman (targets: pull <= 0.5x; create <= 0.3x overlay/btrfs, <= 0.5x copy; disk <= 50 KB overlay/btrfs):"
    for pair in overlay:overlay btrfs:btrfs copy:vfs; do
        s=${pair%:*} p=${pair#*:}
        [ -n "${FIG["strata $s pull"]:-}" ] && [ -n "${FIG["podman $p pull"]:-}" ] || continue
        printf '  %-8s pull %-7s create %-7s per container %s vs %s\n' "$s/$p" \
            "$(ratio "${FIG["strata $s pull"]}" "${FIG["podman $p pull"]}")" \
            "$(ratio "${FIG["strata $s create"]}" "${FIG["podman $p create"]}")" \
            "$(kb "${FIG["strata $s disk"]}")" "$(kb "${FIG["podman $p disk"]}")"
    done
else
    echo "podman is not installed: no comparison (apt-get install podman to get one)"
fi
