#!/bin/bash
# pull.sh - cold pulls from a loopback registry, strata against podman (not
# part of make check).
#
# A plain-HTTP registry (Debian's docker-registry, tests/fixtures/registry.sh)
# on 127.0.0.1 serves busybox:1, debian:12 and layered:1 (the fixtures,
# pushed by skopeo as Docker schema2; layered:1 is debian:12's rootfs in five
# layers of 18-48 MB plus a whiteout layer, tests/fixtures/mklayered.sh,
# where extracting layers in parallel can show).  For each driver pair -
# strata overlay / podman overlay, strata btrfs / podman btrfs (a btrfs file
# system on a loopback file), strata copy / podman vfs - and each image,
# RUNS cold pulls (a new store each time; strata and podman take turns, so
# both meet the same state of the file system) are timed; the medians, the strata/podman ratio and
# strata's peak RSS (the largest of the runs, /usr/bin/time) are printed.
# The issue's target: strata <= 0.5x podman on each driver, RSS < 64 MB.
#
#   sudo bash tests/bench/pull.sh           (after a build; podman: apt-get install podman)
#
# Environment: see tests/bench/lib.sh (STRATA, FIXTURES, RUNS, BENCH_DIR);
# IMAGES (default "busybox:1 debian:12 layered:1"), DRIVERS (default "overlay
# btrfs copy").
. "$(dirname "$0")/lib.sh"
IMAGES=${IMAGES:-busybox:1 debian:12 layered:1}
DRIVERS=${DRIVERS:-overlay btrfs copy}

for t in docker-registry skopeo; do
    command -v "$t" >/dev/null || { echo "pull.sh: $t is needed (bash tests/install-deps.sh)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "pull.sh: /usr/bin/time is needed (apt-get install time)" >&2; exit 1; }
case " $IMAGES " in *" debian:"*)
    if [ ! -f "$FIXTURES/debian/index.json" ]; then
        echo "building debian:12 in $FIXTURES ..."
        bash "$srcdir/tests/fixtures/mkdebian.sh" "$FIXTURES" >/dev/null || exit 1
    fi ;;
esac
# (mklayered.sh returns at once when its layout is there and up to date)
case " $IMAGES " in *" layered:"*)
    [ -f "$FIXTURES/layered/index.json" ] || echo "building layered:1 in $FIXTURES ..."
    bash "$srcdir/tests/fixtures/mklayered.sh" "$FIXTURES" >/dev/null || exit 1 ;;
esac
btrfs_mount 8G
ext4_mount 16G
podman_setup

stop_registry() { bash "$srcdir/tests/fixtures/registry.sh" stop "$W/registry" >/dev/null 2>&1; }
BENCH_EXIT_HOOKS+=(stop_registry)
PORT=$(bash "$srcdir/tests/fixtures/registry.sh" start "$W/registry" http) || { echo "pull.sh: no registry" >&2; exit 1; }
R=127.0.0.1:$PORT
for img in $IMAGES; do
    skopeo copy -q --dest-tls-verify=false --format v2s2 "oci:$FIXTURES/${img%%:*}:${img#*:}" \
        "docker://$R/$img" >/dev/null || { echo "pull.sh: cannot push $img" >&2; exit 1; }
done
printf '{"insecure-registries": ["%s"]}\n' "$R" > "$W/strata.json"
export STRATA_CONFIG=$W/strata.json

podman_driver() { case $1 in copy) echo vfs ;; *) echo "$1" ;; esac; }
base_for() { if [ "$1" = btrfs ]; then echo "$BTRFS"; else echo "$EXT4"; fi; }

# one timed cold pull; prints "NANOSECONDS RSS-KB"
strata_pull() { # DRIVER IMAGE ROOT
    local t0 t1
    t0=$(now)
    /usr/bin/time -f %M -o "$W/rss" "$STRATA" --root "$3" --storage-driver "$1" pull -q "$R/$2" >/dev/null ||
        { echo "pull.sh: strata pull $2 on $1 failed" >&2; return 1; }
    t1=$(now)
    echo "$((t1 - t0)) $(cat "$W/rss")"
}
podman_pull() { # DRIVER IMAGE ROOT
    local t0 t1
    podman_cmd "$3" "$(podman_driver "$1")"
    t0=$(now)
    "${P[@]}" pull -q --tls-verify=false "$R/$2" >/dev/null 2>"$W/podman.err" ||
        { echo "pull.sh: podman pull $2 on $(podman_driver "$1") failed: $(tail -1 "$W/podman.err")" >&2; return 1; }
    t1=$(now)
    echo "$((t1 - t0))"
}
# a store goes once its run is measured: rmi first (btrfs subvolumes, podman's
# mounts), then the tree
drop_store() { # TOOL DRIVER ROOT
    if [ "$1" = strata ]; then
        "$STRATA" --root "$3" --storage-driver "$2" rmi -f "$R/$4" >/dev/null 2>&1
    else
        podman_cmd "$3" "$(podman_driver "$2")"
        "${P[@]}" rmi -af >/dev/null 2>&1
    fi
    rm -rf --one-file-system "$3" "$3.run" 2>/dev/null
    btrfs subvolume list -o "$3" >/dev/null 2>&1 && rm -rf "$3"
}

echo "strata pull benchmark: cold pulls from $R, median of $RUNS runs"
echo "strata: $STRATA"
[ -n "$HAVE_PODMAN" ] && echo "podman: $(podman --version)" ||
    echo "podman is not installed: no comparison (apt-get install podman to get one)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
printf '%-10s %-16s %10s %10s %8s %12s\n' image driver strata podman ratio "strata RSS"
for d in $DRIVERS; do
    base=$(base_for "$d")
    [ -n "$base" ] || continue
    for img in $IMAGES; do
        st=() pd=() rss=0
        for i in $(seq "$RUNS"); do
            read -r t r < <(strata_pull "$d" "$img" "$base/s-$d-$i") || exit 1
            st+=("$t"); [ "$r" -gt "$rss" ] && rss=$r
            drop_store strata "$d" "$base/s-$d-$i" "$img"
            if [ -n "$HAVE_PODMAN" ]; then
                t=$(podman_pull "$d" "$img" "$base/p-$d-$i") && pd+=("$t")
                drop_store podman "$d" "$base/p-$d-$i"
            fi
        done
        sm=$(printf '%s\n' "${st[@]}" | median)
        if [ ${#pd[@]} -gt 0 ]; then
            pm=$(printf '%s\n' "${pd[@]}" | median)
            printf '%-10s %-16s %10s %10s %8s %9s MB\n' "$img" "$d/$(podman_driver "$d")" "$(secs "$sm")" \
                "$(secs "$pm")" "$(ratio "$sm" "$pm")" "$((rss / 1024))"
        else
            printf '%-10s %-16s %10s %10s %8s %9s MB\n' "$img" "$d" "$(secs "$sm")" - - "$((rss / 1024))"
        fi
    done
done
