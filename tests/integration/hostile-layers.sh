#!/bin/bash
# hostile-layers.sh - the hostile-layer suite: every case of
# hostile-layers.py (names that climb, symlinks and hardlinks out,
# whiteouts and opaque markers through symlinks, smuggled overlay xattrs, type
# changes, devices, setuid, size claims, long names, broken archives, ...)
# pulled with `strata pull oci:DIR:TAG` on every storage driver, both as the
# first layer and on top of a benign lower layer (whose symlinks lead out of
# the root).  On overlay and copy, the cases on top run a second time with
# the lower layer pulled in the same pull: the hostile layer is then written
# beside it (a detached stage, settled on it or written again once it is
# published), and must end exactly as when written on it.  Each pull either fails with one clear line, leaving no image,
# layer or temporary data, or yields the safe tree (checked, and compared
# across the drivers).  Nothing outside the store may change: a victim
# directory beside the store (known contents, owners, times, even atimes:
# nothing may be read) and the rest of the store's parent directory are
# compared before and after, and no secret of the victim's may turn up in the
# store.  Last, a decompression bomb fills a small store and must fail
# cleanly on every driver.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
command -v python3 >/dev/null || die "python3 is needed"
setup_store
export STRATA_ISOLATION=chroot
PY="python3 $srcdir/tests/integration/hostile-layers.py"

# Everything on a tmpfs: no syncfs of a busy disk per layer, and the bomb
# stores can be small.
W=$TMPD/w
mkdir -p "$W" && mount -t tmpfs -o size=3g,mode=0700 tmpfs "$W" || die "cannot mount a tmpfs"

# ---------------------------------------------------------------- the victim
V=$W/victim
SECRET=SECRET-$RANDOM$RANDOM$RANDOM
mkdir -p "$V/sub/deeper"
printf '%s\n' "$SECRET" > "$V/secret"
echo keep > "$V/sub/file"
echo keep > "$V/sub/deeper/x"
ln -s secret "$V/link"
echo beside > "$W/sentinel"
setfattr -n user.victim -v 1 "$V/secret" 2>/dev/null
# times far in the past: a read of any file would move its atime
find "$V" "$W/sentinel" -exec touch -h -d '2001-01-01 00:00:00' {} +
chmod 0640 "$V/secret"

L=$W/layout
ncases=$($PY gen "$L" "$V") || die "cannot build the hostile layouts"
# one line per case: name, expectation first, on top, error needle
jq -r 'to_entries[] | [.key, (.value.expect | if type == "object" then .first else . end),
    (.value.expect | if type == "object" then .top else . end), (.value.err // "")] | @tsv' \
    "$L/cases.json" > "$TMPD/cases.tsv" || die "cannot read cases.json"
echo "# $ncases cases"
[ "$ncases" -ge 50 ] || die "only $ncases cases"

# ---------------------------------------------------------------- btrfs
btrfs_store "$W" 1G

# every name the test makes in W from now on exists before the first snapshot
mkdir -p "$W/checks" "$W/bomb-layout" "$W/bomb-overlay" "$W/bomb-copy" "$W/bomb-btrfs" "$W/store-overlay" "$W/store-copy" "$W/store-overlay-detached" "$W/store-copy-detached"
: > "$W/bomb-btrfs.img"
snapshot() { $PY snap "$W" layout bomb-layout btrfs btrfs.img store-overlay store-copy store-overlay-detached store-copy-detached bomb-overlay bomb-copy bomb-btrfs bomb-btrfs.img checks; }
snapshot > "$TMPD/before" || die "cannot snapshot $W"
# snapshot's own reads leave no trace
snapshot > "$TMPD/before2"
cmp -s "$TMPD/before" "$TMPD/before2" || die "the snapshot disturbs what it lists"

# (never with an empty argument: "/" would be every mount)

# the tree of the image just pulled (its top layer), into $TREE; for overlay
# a read-only mount of the layer's stack
tree_of() { # TAG MOUNTPOINT
    local img top l lower
    img=$(jq -r --arg n "localhost/layout:$1" '.[$n] // empty' "$ROOT/repositories.json" 2>/dev/null)
    [ -n "$img" ] || img=$(st images --no-trunc -q "localhost/layout:$1" | head -1)
    top=$(jq -r '.layers[-1]' "$ROOT/images/${img#sha256:}.json") || return 1
    top=${top#sha256:}
    if [ "$DRV" != overlay ]; then TREE=$DATA/layers/$top; return 0; fi
    l=$DATA/layers/$top
    if [ ! -f "$l/lower" ]; then TREE=$l/diff; return 0; fi
    lower=$l/diff
    for s in $(tr ':' ' ' < "$l/lower"); do lower=$lower:$DATA/$s; done
    mkdir -p "$2" && mount -t overlay overlay -o "ro,lowerdir=$lower" "$2" || return 1
    TREE=$2
}

# ---------------------------------------------------------------- per driver
# The drivers run side by side (each its own store, its own output files);
# their results are replayed in order afterwards.
# D overlay-detached, copy-detached: that driver, each case on top pulled
# with its lower layer into a store of its own
run_driver() {
    D=$1 DRV=${1%-detached}
    sx() { # (lib.sh's, with files of this driver's own)
        LAST_CMD="--root \$ROOT $*"
        st "$@" >"$TMPD/out-$D" 2>"$TMPD/err-$D"
        RC=$?
        OUT=$(cat "$TMPD/out-$D")
        ERR=$(cat "$TMPD/err-$D")
        return 0
    }
    if [ "$D" = btrfs ]; then ROOT=$BTRFS_MNT/store; else ROOT=$W/store-$D/root; fi
    DATA=$ROOT/storage/$DRV
    S=(--storage-driver "$DRV")
    : > "$TMPD/list-$D"
    if [ "$D" = "$DRV" ]; then
        sx "${S[@]}" pull "oci:$L:base"
        check_rc "$D: pull the benign lower layer" 0 || return
    fi
    t0=$(date +%s%N)
    bad=0 n=0
    shopt -s nullglob dotglob
    while IFS=$'\t' read -r c e_first e_top needle; do
        for pos in first top; do
            if [ "$D" != "$DRV" ]; then
                [ "$pos" = top ] || continue
                ROOT=$W/store-$D/$c/root DATA=$W/store-$D/$c/root/storage/$DRV
            fi
            n=$((n + 1))
            if [ "$pos" = first ]; then expect=$e_first; else expect=$e_top; fi
            # (globs, not ls: a fork per check costs seconds on a busy host)
            layers_before="$(echo "$ROOT"/layers/* "$DATA"/layers/*)"
            images_before="$(echo "$ROOT"/images/*)"
            sx "${S[@]}" pull "oci:$L:$c-$pos"
            why=
            if [ "$RC" = 0 ]; then
                [ "$expect" = fail ] && why="the pull succeeded"
                if [ -z "$why" ]; then
                    TREE=
                    tree_of "$c-$pos" "$W/checks/$D/$c-$pos" || why="cannot find the pulled tree"
                    [ -n "$TREE" ] && echo "$c $pos $TREE $TMPD/tree-$D-$c-$pos" >> "$TMPD/list-$D"
                fi
            else
                [ "$expect" = ok ] && why="the pull failed: $ERR"
                if [ -z "$why" ]; then
                    case $RC in 1|125) ;; *) why="exit code $RC" ;; esac
                    [ "$(printf '%s' "$ERR" | grep -c '')" = 1 ] && [ "${ERR#strata: error: }" != "$ERR" ] ||
                        why="not one 'strata: error:' line: $ERR"
                    [ -n "$needle" ] && case $ERR in *"$needle"*) ;; *) why="'$needle' not in: $ERR" ;; esac
                    [ "$layers_before" = "$(echo "$ROOT"/layers/* "$DATA"/layers/*)" ] ||
                        why="$why; the failed pull left a layer"
                    [ "$images_before" = "$(echo "$ROOT"/images/*)" ] || why="$why; the failed pull left an image"
                    [ -z "$(echo "$ROOT"/tmp/* "$DATA"/staging/*)" ] || why="$why; temporary data left"
                fi
            fi
            if [ -n "$why" ]; then
                bad=$((bad + 1))
                not_ok "$D: $c ($pos): expected $expect: $why"
            fi
        done
    done < "$TMPD/cases.tsv"
    shopt -u nullglob dotglob
    [ "$D" = "$DRV" ] || ROOT=$W/store-$D # every case's store, for what follows
    t1=$(date +%s%N)
    [ "$bad" = 0 ] && ok "$D: $n pulls of hostile layers failed cleanly or succeeded as expected"
    echo "# $D: $n pulls in $(( (t1 - t0) / 1000000 )) ms"
    out=$($PY check "$L/cases.json" "$TMPD/list-$D" 2>&1)
    check_eq "$D: every successful pull yields the safe tree" "" "$out"
    for m in $(mounts_under "$W/checks/$D" | sort -r); do umount "$m"; done
    left=$(grep -rlF "$SECRET" "$ROOT" 2>/dev/null | head -3)
    check_eq "$D: the victim's secret is nowhere in the store" "" "$left"
    snapshot > "$TMPD/after-$D"
    check_eq "$D: nothing outside the store changed (victim, sentinel: contents, modes, owners, times, xattrs)" \
        "" "$(diff "$TMPD/before" "$TMPD/after-$D" | head -20)"
    check_eq "$D: nothing left mounted" "" "$(mounts_under "$ROOT")"
}
ALL="$DRIVERS overlay-detached copy-detached"
for D in $ALL; do
    run_driver "$D" > "$TMPD/results-$D" 2>&1 &
done
wait
for D in $ALL; do
    while IFS= read -r line; do
        case $line in
            "ok - "*) ok "${line#ok - }" ;;
            "not ok - "*) not_ok "${line#not ok - }" ;;
            *) printf '%s\n' "$line" ;;
        esac
    done < "$TMPD/results-$D"
done

# ---------------------------------------------------------------- the drivers agree
for D in $ALL; do
    [ "$D" = copy ] && continue
    bad=
    while read -r c pos _ out; do
        [ "$(jq -r --arg c "$c" '.[$c].nocompare // false' "$L/cases.json")" = true ] && continue
        other=$TMPD/tree-copy-$c-$pos
        [ -f "$other" ] || { bad="$bad $c/$pos(copy failed)"; continue; }
        # directory link counts and sizes are the file system's business
        cmp -s <(cut -d'|' -f1-4,6- "$out" | sed -E 's/^([^|]*\|4[0-7]{4}\|[^|]*\|[^|]*)\|[0-9]+\|/\1|0|/') \
               <(cut -d'|' -f1-4,6- "$other" | sed -E 's/^([^|]*\|4[0-7]{4}\|[^|]*\|[^|]*)\|[0-9]+\|/\1|0|/') ||
            bad="$bad $c/$pos"
    done < "$TMPD/list-$D"
    check_eq "$D and copy yield the same trees" "" "$bad"
done

# ---------------------------------------------------------------- a decompression bomb
# 300 MiB of zeros in a 300 KiB gzip layer, into stores too small for it
python3 - "$W/bomb-layout" <<'EOF' || die "cannot build the bomb"
import gzip, hashlib, io, json, os, sys, tarfile, zlib
sys.path.insert(0, os.path.join(os.environ["srcdir"], "tests/integration"))
hl = __import__("hostile-layers")
out = sys.argv[1]
size = 300 << 20
ti = tarfile.TarInfo("bomb"); ti.size = size
head = ti.tobuf(tarfile.PAX_FORMAT)
h = hashlib.sha256(); co = zlib.compressobj(9, zlib.DEFLATED, 31)
gz = [co.compress(head)]; h.update(head)
z = b"\0" * (1 << 20)
for _ in range(size >> 20):
    gz.append(co.compress(z)); h.update(z)
tail = b"\0" * 1024 + b"\0" * 8192
tail = tail[: (10240 - (len(head) + size + 1024) % 10240) % 10240 + 1024]
gz.append(co.compress(tail)); h.update(tail); gz.append(co.flush())
lay = hl.Layout(out)
lay.image("bomb", [(b"".join(gz), "sha256:" + h.hexdigest(), hl.TGZ)])
lay.close()
EOF
for D in $DRIVERS; do
    if [ "$D" = btrfs ]; then
        truncate -s 160M "$W/bomb-btrfs.img" && mkfs.btrfs -q "$W/bomb-btrfs.img" >/dev/null 2>&1 &&
            mkdir -p "$W/bomb-btrfs" && mount -o loop "$W/bomb-btrfs.img" "$W/bomb-btrfs" ||
            { not_ok "btrfs: cannot make the small store for the bomb"; continue; }
    else
        mkdir -p "$W/bomb-$D" && mount -t tmpfs -o size=64m tmpfs "$W/bomb-$D" ||
            { not_ok "$D: cannot make the small store for the bomb"; continue; }
    fi
    ROOT=$W/bomb-$D/store
    DATA=$ROOT/storage/$D
    sx --storage-driver "$D" pull "oci:$W/bomb-layout:bomb"
    check_error "$D: a decompression bomb larger than the store fails with one line" "$RC" "No space left"
    [ "$RC" != 0 ] || not_ok "$D: the bomb was pulled"
    check_eq "$D: the bomb left no layer, image or staged data" "" \
        "$(ls -A "$ROOT/layers" "$ROOT/images" "$ROOT/tmp" "$DATA/layers" "$DATA/staging" 2>/dev/null | grep -v ':$' | grep .)"
    [ "$D" = btrfs ] && check_eq "btrfs: the bomb left no subvolume" "" \
        "$(btrfs subvolume list "$W/bomb-btrfs" 2>&1 | grep -v ' path store/storage/btrfs/\(layers\|staging\|containers\)$')"
    umount -l "$W/bomb-$D"
done
snapshot > "$TMPD/after"
check_eq "after the bombs: nothing outside the stores changed" "" "$(diff "$TMPD/before" "$TMPD/after" | head -20)"

[ -n "$W" ] && for m in $(mounts_under "$W" | sort -r); do umount -l "$m"; done
umount -l "$W"
finish
