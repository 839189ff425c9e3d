#!/bin/bash
# pull-layered.sh - layered:1 (tests/fixtures/mklayered.sh: debian:12's
# rootfs in five gzip layers of 18-48 MB, then a layer that rewrites
# /etc/motd and deletes a file, a directory and most of the fifth layer
# through whiteouts), pulled from a real registry on 127.0.0.1 with each
# storage driver (overlay, btrfs on a loopback file, copy):
#   - the image has the six layers, in the manifest's order;
#   - a fresh container's mounted root is the tree `umoci unpack` makes of
#     the same layout (plus the init layer's empty mount points), so layers
#     extracted side by side still stack in order and the top layer's
#     whiteouts hide what the lower ones brought;
#   - nothing is left under ROOT/tmp.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
for t in docker-registry skopeo umoci; do
    command -v "$t" >/dev/null || die "$t is needed (bash tests/install-deps.sh)"
done
need_fixtures
need_layered
setup_store
# chroot adds nothing to a container's writable layer (namespaces adds its
# mount points), so a mounted fresh container is exactly image + init layer
export STRATA_ISOLATION=chroot

LAY=$FIXTURES/layered
FX=$srcdir/tests/fixtures
RD=$TMPD/registry
MAN=$(fx_blob "$LAY" "$(fx_manifest "$LAY" 1)")
[ -f "$MAN" ] || die "cannot read $LAY (fixtures broken?)"
NLAYERS=$(jq '.layers | length' "$MAN")
[ "$NLAYERS" -ge 6 ] || die "layered:1 has $NLAYERS layers, not 6"

stop_registry() { bash "$FX/registry.sh" stop "$RD" >/dev/null 2>&1; return 0; }
trap 'rc=$?; stop_registry; (exit $rc); cleanup' EXIT
P=$(bash "$FX/registry.sh" start "$RD" http 2>"$TMPD/start.err") ||
    { cat "$TMPD/start.err"; die "cannot start the registry"; }
R=127.0.0.1:$P
skopeo copy -q --dest-tls-verify=false --format v2s2 "oci:$LAY:1" "docker://$R/layered:1" >"$TMPD/push.log" 2>&1 ||
    { cat "$TMPD/push.log"; die "skopeo copy to $R failed"; }
export STRATA_CONFIG=$TMPD/config.json
printf '{"insecure-registries": ["%s"]}\n' "$R" > "$STRATA_CONFIG"
IMG=$R/layered:1

# the reference: umoci's unpack, with what strata's init layer adds where the
# image lacks it (Docker's "-init" layer).  (Listed once: on copy, comparing
# the top layer too with check_tree would cost two more listings of 170 MB
# and catch nothing the container's root does not.)
# Three stores and umoci's tree hold 170 MB each: on a tmpfs, the test is
# about pulling, not about this disk (deleting them from ext4 alone took
# 20-40 s on a busy machine).
MEM=$TMPD/mem
mkdir -p "$MEM" && mount -t tmpfs -o size=2G,mode=0700 tmpfs "$MEM" || die "cannot mount a tmpfs on $MEM"
umoci unpack --image "$LAY:1" "$MEM/umoci" >/dev/null 2>&1 || die "umoci unpack $LAY:1 failed"
U=$MEM/umoci/rootfs
[ ! -e "$U/etc/issue.net" ] && [ ! -e "$U/usr/share/doc/gzip" ] && [ -f "$U/usr/share/doc/sed/copyright" ] ||
    die "umoci's unpack of layered:1 does not show the top layer's whiteouts"
for d in proc sys dev; do [ -e "$U/$d" ] || install -d -m 0755 -o 0 -g 0 "$U/$d"; done
for f in hostname hosts resolv.conf; do [ -e "$U/etc/$f" ] || install -m 0644 -o 0 -g 0 /dev/null "$U/etc/$f"; done
tree_list "$U" > "$TMPD/want-container"

btrfs_store "$TMPD" 1G
for D in $DRIVERS; do
    if [ "$D" = btrfs ]; then ROOT=$BTRFS_MNT/root; else ROOT=$MEM/root-$D; fi
    export STRATA_STORAGE_DRIVER=$D
    sx pull -q "$IMG"
    check_rc "$D: pull layered:1 ($NLAYERS layers) from $R" 0 || continue
    sx inspect "$IMG"
    check_eq "$D: the image's layers are the config's $NLAYERS diff_ids, in order" \
        "$(jq -c .rootfs.diff_ids "$(fx_blob "$LAY" "$(jq -r .config.digest "$MAN")")")" \
        "$(printf '%s\n' "$OUT" | jq -c '.[0].RootFS.Layers' 2>&1)"
    sx create --name c0 "$IMG" true
    check_rc "$D: create a container" 0
    sx mount c0
    if check_rc "$D: mount it" 0 && [ -d "$OUT/etc" ]; then
        tree_list "$OUT" > "$TMPD/got-$D"
        if diff -q "$TMPD/want-container" "$TMPD/got-$D" >/dev/null; then
            ok "$D: the container's root is umoci's unpack of layered:1 (whiteouts of the top layer applied)"
        else not_ok "$D: the container's root is umoci's unpack of layered:1 (whiteouts of the top layer applied)"
            note "$(diff "$TMPD/want-container" "$TMPD/got-$D" | head -20)"; fi
        check_eq "$D: /etc/motd is the top layer's" \
            "layered:1, a strata test fixture: the debian:12 root file system in six layers" "$(cat "$OUT/etc/motd")"
        sx umount c0
    fi
    store_has_no_temp "$D"
    # (no rmi: storage-drivers.sh covers it, and the stores go at exit)
done
[ -n "$BTRFS_MNT" ] && umount -l "$BTRFS_MNT"
umount -l "$MEM"
finish
