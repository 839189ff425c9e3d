#!/bin/bash
# storage-drivers.sh - the overlay, btrfs and copy storage drivers on real
# mounts: pull, run, whiteouts, opaque dirs, hardlinks (also to a lower
# layer's file), owners and modes, containers that see only their own writes,
# rm and rmi leaving nothing behind, and the extracted tree of each driver
# compared with the others' and with `umoci unpack` of the same image.  Also:
# a store refuses a driver other than the one it was made with, overlay's
# probe refuses a store on overlayfs, and overlay flattens an image deeper
# than it may stack; layers are synced to disk only with storage-sync.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store
# This script compares what the storage drivers hold.  The namespaces backend
# adds its own mount points (/dev, /proc, /sys, /etc/hostname, /etc/hosts) to
# a container's writable layer; chroot adds nothing, so the trees compare
# exactly.  namespaces.sh covers the namespaces backend itself.
export STRATA_ISOLATION=chroot

BB=$FIXTURES/busybox
IMG=localhost/busybox:1
command -v umoci >/dev/null || die "umoci is needed"
command -v strace >/dev/null || die "strace is needed"
[ -x /bin/busybox ] || die "/bin/busybox is needed (busybox-static)"

# ---------------------------------------------------------------- fixtures of our own
# xlink:2 = busybox:1 plus a layer written by GNU tar holding a hardlink to a
# file only a LOWER layer has (bin/env2 -> bin/busybox), a type change
# (etc/group becomes a symlink) and a whiteout of a directory (home/user).
XL=$TMPD/xlink
XIMG=localhost/xlink:2
mkdir -p "$TMPD/l5/bin" "$TMPD/l5/etc" "$TMPD/l5/home"
cp /bin/busybox "$TMPD/l5/bin/busybox"
ln "$TMPD/l5/bin/busybox" "$TMPD/l5/bin/env2"
ln -s passwd "$TMPD/l5/etc/group"
: > "$TMPD/l5/home/.wh.user"
(cd "$TMPD/l5" && tar --sort=name --numeric-owner --format=gnu --owner=0 --group=0 \
    --mtime="2024-01-01 00:00:00 UTC" -cf "$TMPD/l5.tar" bin etc home) || die "tar failed"
# drop the link's target from the archive: only the lower layer has it now
tar --delete -f "$TMPD/l5.tar" bin/busybox || die "tar --delete failed"
tar tvf "$TMPD/l5.tar" | grep -q 'bin/env2 link to bin/busybox' || die "l5.tar has no hardlink entry"
cp -a "$BB" "$XL"
umoci raw add-layer --image "$XL:1" --tag 2 --history.created_by "hardlink to a lower layer" \
    "$TMPD/l5.tar" || die "umoci raw add-layer failed"

# the reference trees
umoci unpack --image "$BB:1" "$TMPD/umoci-bb" >/dev/null || die "umoci unpack busybox:1 failed"
umoci unpack --image "$XL:2" "$TMPD/umoci-xl" >/dev/null || die "umoci unpack xlink:2 failed"

# A listing of a tree, one line per entry: path|type|mode|owner|links|content
# (sha256 of a file, target of a symlink; a directory's link count is the
# file system's business, btrfs says 1).  busybox both in the container and
# on the host, so the format is the same; a few processes per tree, not per
# entry.
LIST=$(cat <<'EOF_LIST'
cd "${1:-/}" || exit 1
{ busybox find . -xdev -type f -exec busybox sha256sum {} +; echo --
  busybox find . -xdev -exec busybox stat -c "%n|%F|%a|%u:%g|%h|%N" {} +; } |
busybox awk -v q="'" '
  $0 == "--" { phase = 1; next }
  phase == 0 { h = $1; sub(/^[^ ]+  /, ""); sum[$0] = h; next }
  { split($0, f, "|"); x = ""
    if (f[2] == "directory") f[5] = ""
    if (f[2] ~ /^regular/) x = sum[f[1]]
    if (f[2] == "symbolic link") { x = f[6]; sub(/^.* -> /, "", x); gsub(q, "", x) }
    print f[1] "|" f[2] "|" f[3] "|" f[4] "|" f[5] "|" x }' | busybox sort
EOF_LIST
)
host_list() { busybox sh -c "$LIST" sh "$1"; }
# A container sees its image plus the init layer strata puts between the
# image and the container's writable layer (Docker's "-init" layer): empty
# /proc, /sys, /dev, /etc/hostname, /etc/hosts, /etc/resolv.conf wherever
# the image lacks them.  Add them to umoci's trees.
for t in umoci-bb umoci-xl; do
    for d in proc sys dev; do
        [ -e "$TMPD/$t/rootfs/$d" ] || install -d -m 0755 -o 0 -g 0 "$TMPD/$t/rootfs/$d"
    done
    for f in hostname hosts resolv.conf; do
        [ -e "$TMPD/$t/rootfs/etc/$f" ] || install -m 0644 -o 0 -g 0 /dev/null "$TMPD/$t/rootfs/etc/$f"
    done
done
host_list "$TMPD/umoci-bb/rootfs" > "$TMPD/list-umoci-bb" || die "cannot list umoci's tree"
host_list "$TMPD/umoci-xl/rootfs" > "$TMPD/list-umoci-xl" || die "cannot list umoci's tree"
grep -q '^./bin/env2|' "$TMPD/list-umoci-xl" || die "umoci's xlink:2 tree has no bin/env2"

check_same_tree() { # DESC EXPECTED-FILE ACTUAL-FILE
    local d
    d=$(diff "$2" "$3" | head -20)
    if [ -z "$d" ] && [ -s "$3" ]; then ok "$1"; else
        not_ok "$1"; [ -s "$3" ] || note "empty listing"; note "$d"; fi
}


# ---------------------------------------------------------------- btrfs store
btrfs_store "$TMPD" 1G

# ---------------------------------------------------------------- per driver
for D in $DRIVERS; do
    if [ "$D" = btrfs ]; then ROOT=$BTRFS_MNT/root; else ROOT=$TMPD/root-$D; fi
    DATA=$ROOT/storage/$D
    S=(--storage-driver "$D")

    sx "${S[@]}" pull "oci:$BB:1"
    check_rc "$D: pull busybox:1" 0 || { show_last; continue; }
    sx info
    check_contains "$D: info names the store's driver" "$OUT" "Storage Driver: $D"
    # the image's file system, seen from inside
    sx "${S[@]}" run --rm "$IMG" sh -c '
        cat /hello.txt
        test -e /etc/to-delete.txt && echo "whiteout: still there"
        echo "data: $(ls -A /data | busybox tr "\n" " ")"
        echo "inodes: $(ls -i /bin/busybox /bin/env | busybox awk "{print \$1}" | busybox sort -u | wc -l)"
        echo "links: $(stat -c %h /bin/busybox)"
        echo "file: $(stat -c "%u:%g %a" /home/user/file)"
        echo "home/user: $(stat -c "%u:%g %a" /home/user)"
        echo "tmp: $(stat -c %a /tmp)"
        echo "sh: $(readlink /bin/sh)"'
    check_eq "$D: run: /hello.txt, whiteout, opaque dir, hardlink, owners, modes, symlink" \
        "$(printf '%s\n' 'hello from layer 2' 'data: new.txt ' 'inodes: 1' 'links: 2' 'file: 1000:1000 640' \
            'home/user: 1000:1000 755' 'tmp: 1777' 'sh: busybox')" "$OUT"

    # the tree against umoci's
    sx "${S[@]}" run --rm "$IMG" sh -c "$LIST" sh /
    printf '%s\n' "$OUT" > "$TMPD/list-$D-bb"
    check_same_tree "$D: busybox:1 tree is the one umoci unpacks" "$TMPD/list-umoci-bb" "$TMPD/list-$D-bb"

    # a hardlink to a lower layer's file, a type change, a whited-out directory
    sx "${S[@]}" pull "oci:$XL:2"
    check_rc "$D: pull xlink:2 (hardlink to a lower layer's file)" 0 || show_last
    sx "${S[@]}" run --rm "$XIMG" sh -c '
        echo "inodes: $(ls -i /bin/busybox /bin/env /bin/env2 | busybox awk "{print \$1}" | busybox sort -u | wc -l)"
        echo "links: $(stat -c %h /bin/env2)"
        echo "group: $(readlink /etc/group)"
        test -e /home/user && echo "home/user: still there"
        echo "home: $(ls -A /home)"'
    check_eq "$D: xlink:2: env2 links busybox, etc/group a symlink, home/user gone" \
        "$(printf '%s\n' 'inodes: 1' 'links: 3' 'group: passwd' 'home: ')" "$OUT"
    sx "${S[@]}" run --rm "$XIMG" sh -c "$LIST" sh /
    printf '%s\n' "$OUT" > "$TMPD/list-$D-xl"
    check_same_tree "$D: xlink:2 tree is the one umoci unpacks" "$TMPD/list-umoci-xl" "$TMPD/list-$D-xl"

    # two containers on one image: each sees only its own writes
    sx "${S[@]}" create "$IMG" sh -c 'echo one >> /w; rm -f /etc/arch; cat /w; ls /etc'
    C1=$OUT
    sx "${S[@]}" create "$IMG" sh -c 'echo two >> /w; cat /w /etc/arch'
    C2=$OUT
    sx "${S[@]}" start -a "$C1"
    check_eq "$D: container 1 writes and deletes" "$(printf '%s\n' one group hostname hosts passwd resolv.conf)" "$OUT"
    sx "${S[@]}" start -a "$C2"
    check_eq "$D: container 2 sees none of container 1's changes" "$(printf '%s\n' two amd64)" "$OUT"
    sx "${S[@]}" start -a "$C1"
    check_eq "$D: container 1 keeps its own writes" "$(printf '%s\n' one one group hostname hosts passwd resolv.conf)" "$OUT"
    check_eq "$D: nothing stays mounted after the containers exit" "" "$(mounts_under "$ROOT")"
    sx "${S[@]}" rm "$C1"
    check_rc "$D: rm container 1" 0
    sx "${S[@]}" start -a "$C2"
    check_eq "$D: container 2 still works after container 1 is removed" \
        "$(printf '%s\n' two two amd64)" "$OUT"
    left=$(ls -A "$DATA/containers")
    [ "$D" = btrfs ] && left="$left $(btrfs subvolume list "$BTRFS_MNT" 2>&1)"
    check_contains "$D: container 2's storage is there" "$left" "$C2"
    check_not_contains "$D: container 1's storage is gone" "$left" "$C1"

    # rm then rmi: nothing left behind
    sx "${S[@]}" rm "$C2"
    check_rc "$D: rm container 2" 0
    sx "${S[@]}" rmi "$IMG" "$XIMG"
    check_rc "$D: rmi both images" 0
    check_eq "$D: no layer left" "" "$(ls -A "$DATA/layers")"
    check_eq "$D: no container storage left" "" "$(ls -A "$DATA/containers")"
    check_eq "$D: nothing staged" "" "$(ls -A "$DATA/staging")"
    [ "$D" = overlay ] && check_eq "overlay: no layer links left in l/" "" "$(ls -A "$DATA/l")"
    [ "$D" = btrfs ] && check_eq "btrfs: no subvolume left" "" "$(btrfs subvolume list "$BTRFS_MNT" 2>&1)"
    check_eq "$D: no mount left" "" "$(mounts_under "$ROOT")"
    store_has_no_temp "$D"
    store_has_no_layers "$D"
done

# ---------------------------------------------------------------- the drivers agree
for D in $DRIVERS; do
    [ "$D" = copy ] && continue
    check_same_tree "busybox:1: $D and copy give the same tree" "$TMPD/list-copy-bb" "$TMPD/list-$D-bb"
    check_same_tree "xlink:2: $D and copy give the same tree" "$TMPD/list-copy-xl" "$TMPD/list-$D-xl"
done

# ---------------------------------------------------------------- overlay specifics
# the on-disk layout: short links, each layer's lower chain
ROOT=$TMPD/root-layout
DATA=$ROOT/storage/overlay
sx --storage-driver overlay pull "oci:$BB:1"
check_rc "overlay: pull for the layout checks" 0
chains=$(for l in "$DATA"/layers/*; do
    n=0; [ -f "$l/lower" ] && n=$(tr ':' '\n' < "$l/lower" | grep -c .); echo "$n"; done | sort | paste -sd' ')
check_eq "overlay: the four layers have 0, 1, 2 and 3 ancestors in their lower files" "0 1 2 3" "$chains"
bad=
for l in "$DATA"/layers/*; do
    [ "$(readlink -f "$DATA/l/$(cat "$l/link")")" = "$(readlink -f "$l/diff")" ] || bad="$bad $l"
    [ -f "$l/lower" ] || continue
    for s in $(tr ':' ' ' < "$l/lower"); do [ -d "$DATA/$s" ] || bad="$bad $l:$s"; done
done
check_eq "overlay: every link and lower entry leads to a layer's diff" "" "$bad"
sx --storage-driver overlay create "$IMG" sleep 3
C=$OUT
st start -a "$C" >/dev/null 2>&1 & bg=$!
m=
for _ in $(seq 30); do m=$(mounts_under "$ROOT"); [ -n "$m" ] && break; sleep 0.1; done
check_eq "overlay: a running container's root is an overlay mount on containers/ID/merged" \
    "$DATA/containers/$C/merged overlay" \
    "$(awk -v d="$DATA/containers/$C/merged" '$5 == d { for (i = 7; $i != "-"; i++); print $5, $(i + 1) }' /proc/self/mountinfo)"
wait $bg
check_eq "overlay: unmounted after it exits" "" "$(mounts_under "$ROOT")"
st rm "$C" >/dev/null 2>&1

# deeper than overlay may stack: the layer past the limit is stored flattened
ROOT=$TMPD/root-flat
DATA=$ROOT/storage/overlay
STRATA_OVERLAY_MAX_LAYERS=3 sx --storage-driver overlay pull "oci:$BB:1"
check_rc "overlay: pull a 4-layer image when at most 3 may stack" 0
lowers=$(for l in "$DATA"/layers/*; do
    n=0; [ -f "$l/lower" ] && n=$(tr ':' '\n' < "$l/lower" | grep -c .); echo "$n"; done | sort | paste -sd' ')
check_eq "overlay: the 4th layer is a flattened base (ancestors 0 0 1 2)" "0 0 1 2" "$lowers"
STRATA_OVERLAY_MAX_LAYERS=3 sx --storage-driver overlay run --rm "$IMG" sh -c "$LIST" sh /
printf '%s\n' "$OUT" > "$TMPD/list-flat-bb"
check_same_tree "overlay: the flattened image's tree is umoci's" "$TMPD/list-umoci-bb" "$TMPD/list-flat-bb"

# ---------------------------------------------------------------- storage-sync
# Whether a layer is synced to disk before it is published is the core's
# call, not the driver's: one syncfs per layer with the config key
# storage-sync, none without (the default, as with Docker and Podman).
for want in 4:true 0:false; do
    ROOT=$TMPD/root-sync-${want#*:}
    printf '{"storage-sync": %s}\n' "${want#*:}" > "$TMPD/sync.json"
    STRATA_CONFIG=$TMPD/sync.json strace -f -qq -e trace=syncfs -o "$TMPD/sync.trace" \
        "$STRATA" --root "$ROOT" --storage-driver copy pull -q "oci:$BB:1" >/dev/null 2>&1
    check_eq "storage-sync ${want#*:}: busybox:1's four layers, ${want%%:*} syncfs calls" \
        "${want%%:*}" "$(grep -c '^[0-9]* *syncfs(' "$TMPD/sync.trace")"
done

# ---------------------------------------------------------------- a store keeps its driver
ROOT=$TMPD/root-copy-store
sx --storage-driver copy pull "oci:$BB:1"
check_rc "copy store: pull" 0
check_fail "a copy store refuses --storage-driver overlay (pull), naming its driver" 125 \
    "created with storage driver 'copy'" "'overlay'" -- --storage-driver overlay pull "oci:$XL:2"
check_fail "a copy store refuses --storage-driver overlay (create), naming its driver" 125 \
    "created with storage driver 'copy'" "'overlay'" -- --storage-driver overlay create "$IMG"
sx images -q
check_rc "without --storage-driver the store's own driver is used" 0

# ---------------------------------------------------------------- overlay on overlayfs
mkdir -p "$TMPD/ofs/lower" "$TMPD/ofs/upper" "$TMPD/ofs/work" "$TMPD/ofs/merged"
if mount -t overlay overlay -o "lowerdir=$TMPD/ofs/lower,upperdir=$TMPD/ofs/upper,workdir=$TMPD/ofs/work" \
    "$TMPD/ofs/merged"; then
    ROOT=$TMPD/ofs/merged/root
    sx info
    probe=$(printf '%s\n' "$OUT" | sed -n '/^  storage overlay:/,/Probe:/p' | grep 'Probe:')
    check_contains "info: overlay's probe refuses a store on overlayfs, saying why" "$probe" \
        "failed: overlay is not supported on top of overlayfs"
    check_fail "pull --storage-driver overlay on overlayfs fails cleanly" 125 \
        "overlay is not supported on top of overlayfs" -- --storage-driver overlay pull "oci:$BB:1"
    check_eq "the failed pull left no layer" "" "$(find "$ROOT/layers" -name '*.json' 2>/dev/null)"
    umount -l "$TMPD/ofs/merged"
else
    not_ok "cannot mount an overlay for the overlay-on-overlayfs check"
fi

[ -n "$BTRFS_MNT" ] && umount -l "$BTRFS_MNT"
finish
