#!/bin/bash
# export.sh - the reverse direction of the layer engine, on overlay, btrfs
# (a loopback file) and copy: `diff` (A/C/D lines, a file deleted from a
# lower layer, an opaque directory replacement), `mount`/`umount`, `save`
# (read back by skopeo and umoci; the layers written again must hash to the
# config's diff_ids or save fails), save -> rmi -> load giving the same image
# ID, `load` of an archive skopeo wrote, hostile archives that must fail with
# one line and leave nothing behind, and `image prune`.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store
# chroot adds nothing to a container's writable layer, so diff shows exactly
# what the command did (namespaces adds its mount points: /dev, /proc, ...)
export STRATA_ISOLATION=chroot
for t in skopeo umoci python3; do command -v $t >/dev/null || die "$t is needed"; done

BB=$FIXTURES/busybox
IMG=localhost/busybox:1

# path|type|mode|owner|size|target, and a digest per file: a tree compared
# by everything the layer carries
tree_list() {
    (cd "$1" && find . -path ./proc -prune -o -printf '%p|%y|%m|%U:%G|%l\n' | sort &&
        find . -type f -exec sha256sum {} + | sort -k2)
}
umoci unpack --image "$BB:1" "$TMPD/umoci-bb" >/dev/null || die "umoci unpack failed"
tree_list "$TMPD/umoci-bb/rootfs" > "$TMPD/list-image"
# a container's root is its image plus the init layer (Docker's "-init"):
# empty /proc, /sys, /dev, /etc/hostname, /etc/hosts, /etc/resolv.conf
# wherever the image lacks them
for d in proc sys dev; do
    [ -e "$TMPD/umoci-bb/rootfs/$d" ] || install -d -m 0755 -o 0 -g 0 "$TMPD/umoci-bb/rootfs/$d"
done
for f in hostname hosts resolv.conf; do
    [ -e "$TMPD/umoci-bb/rootfs/etc/$f" ] || install -m 0644 -o 0 -g 0 /dev/null "$TMPD/umoci-bb/rootfs/etc/$f"
done
tree_list "$TMPD/umoci-bb/rootfs" > "$TMPD/list-fixture"

store_leftovers() { # what a failed load may not leave: images, layers, temporary files
    find "$ROOT/images" "$ROOT/layers" "$ROOT/tmp" "$ROOT/downloads" -mindepth 1 2>/dev/null
}

# ---------------------------------------------------------------- btrfs store
btrfs_store "$TMPD" 512M

EXPECTED_DIFF='C /bin
D /bin/cat
C /etc
A /etc/newfile
C /etc/passwd
C /home
A /home/new
D /home/user'

for D in $DRIVERS; do
    if [ "$D" = btrfs ]; then ROOT=$BTRFS_MNT/root; else ROOT=$TMPD/root-$D; fi
    export STRATA_STORAGE_DRIVER=$D
    sx pull -q "oci:$BB:1"
    check_rc "$D: pull busybox:1" 0 || continue
    ID=$OUT

    # ------------------------------------------------------------ diff
    # /bin/cat and /home/user come from a lower layer; /home is replaced by
    # a new directory (on overlay: an opaque one)
    sx run --name c1 "$IMG" sh -c 'busybox touch /etc/newfile; echo x >> /etc/passwd
        busybox rm /bin/cat; busybox rm -rf /home; busybox mkdir /home; echo n > /home/new'
    check_rc "$D: run the changes" 0
    sx diff c1
    check_rc "$D: diff" 0 && check_eq "$D: diff lists A/C/D like Docker, parents first" "$EXPECTED_DIFF" "$OUT"
    sx container diff c1
    check_eq "$D: container diff is diff" "$EXPECTED_DIFF" "$OUT"
    sx create --name c0 "$IMG" true
    sx diff c0
    check_eq "$D: a fresh container has no changes" "" "$OUT"

    # ------------------------------------------------------------ mount / umount
    sx mount c1
    MP=$OUT
    check_rc "$D: mount" 0
    check_eq "$D: the mounted root holds the container's files" "n" "$(cat "$MP/home/new" 2>&1)"
    check_eq "$D: the mounted root lacks what the container deleted" "absent" \
        "$([ -e "$MP/bin/cat" ] || [ -L "$MP/bin/cat" ] && echo present || echo absent)"
    sx mount c0
    tree_list "$OUT" > "$TMPD/list-c0-$D"
    if diff -q "$TMPD/list-fixture" "$TMPD/list-c0-$D" >/dev/null; then
        ok "$D: a mounted fresh container's tree equals umoci's unpack of the image"
    else not_ok "$D: a mounted fresh container's tree equals umoci's unpack of the image"
        note "$(diff "$TMPD/list-fixture" "$TMPD/list-c0-$D" | head)"; fi
    sx umount c1
    check_rc "$D: umount" 0
    sx umount c0
    if [ "$D" = overlay ]; then
        check_eq "overlay: umount leaves no mount" "" "$(mounts_under "$ROOT")"
    fi
    sx rm c0 c1
    check_rc "$D: rm the containers" 0

    # ------------------------------------------------------------ save
    sx save -o "$TMPD/save-$D.tar" "$IMG"
    check_rc "$D: save -o (every layer hashes to its diff_id again)" 0 || continue
    check_eq "$D: save leaves no temporary file beside the archive" "save-$D.tar" \
        "$(ls -A "$TMPD" | grep "save-$D" )"
    st save "$IMG" > "$TMPD/stdout-$D.tar" 2>/dev/null
    check_eq "$D: save to a redirected stdout writes the same archive" \
        "$(sha256sum < "$TMPD/save-$D.tar")" "$(sha256sum < "$TMPD/stdout-$D.tar")"
    if skopeo inspect "docker-archive:$TMPD/save-$D.tar" > "$TMPD/inspect-$D" 2>&1; then
        ok "$D: skopeo inspect accepts the archive"
        check_eq "$D: skopeo sees the image's layers" \
            "$(tar xOf "$TMPD/save-$D.tar" manifest.json | jq -r '.[0].Layers[]' | sed 's/\.tar$//')" \
            "$(jq -r '.Layers[]' "$TMPD/inspect-$D" | sed 's/^sha256://')"
    else not_ok "$D: skopeo inspect accepts the archive"; note "$(head -3 "$TMPD/inspect-$D")"; fi
    if skopeo copy -q "docker-archive:$TMPD/save-$D.tar" "oci:$TMPD/oci-$D:x" >/dev/null 2>"$TMPD/copy-err" &&
        umoci unpack --image "$TMPD/oci-$D:x" "$TMPD/unpack-$D" >/dev/null 2>&1; then
        tree_list "$TMPD/unpack-$D/rootfs" > "$TMPD/list-unpack-$D"
        if diff -q "$TMPD/list-image" "$TMPD/list-unpack-$D" >/dev/null; then
            ok "$D: skopeo copy + umoci unpack of the archive equals the image's tree"
        else not_ok "$D: skopeo copy + umoci unpack of the archive equals the image's tree"
            note "$(diff "$TMPD/list-image" "$TMPD/list-unpack-$D" | head)"; fi
    else not_ok "$D: skopeo copy docker-archive -> oci, umoci unpack"; note "$(cat "$TMPD/copy-err")"; fi

    # ------------------------------------------------------------ round trip
    sx rmi "$IMG"
    sx images -q
    check_eq "$D: rmi leaves no image" "" "$OUT"
    sx load -i "$TMPD/save-$D.tar"
    check_rc "$D: load -i" 0 && check_eq "$D: load says what it loaded" "Loaded image: $IMG" "$OUT"
    sx images -q --no-trunc
    check_eq "$D: save -> rmi -> load gives the same image ID" "$ID" "$OUT"
    sx rmi "$IMG"
    timeout -k 5 "$STRATA_TEST_TIMEOUT" "$STRATA" --root "$ROOT" load < "$TMPD/save-$D.tar" > "$TMPD/out" 2>&1
    check_eq "$D: load from stdin" "Loaded image: $IMG" "$(cat "$TMPD/out")"
    check_eq "$D: load leaves no temporary file" "" "$(find "$ROOT/tmp" "$ROOT/downloads" -mindepth 1)"
    unset STRATA_STORAGE_DRIVER
done

# ---------------------------------------------------------------- archives others write
setup_store
skopeo copy -q "oci:$BB:1" "docker-archive:$TMPD/skopeo.tar:busybox:1" >/dev/null 2>&1 ||
    die "skopeo cannot write a docker-archive"
sx load -i "$TMPD/skopeo.tar"
check_rc "load of an archive skopeo wrote" 0 && check_eq "it is named as skopeo named it" \
    "Loaded image: busybox:1" "$OUT"
sx create --name sk busybox:1 true
sx mount sk
tree_list "$OUT" > "$TMPD/list-skopeo"
if diff -q "$TMPD/list-fixture" "$TMPD/list-skopeo" >/dev/null; then
    ok "the loaded image's tree equals umoci's unpack of the fixture"
else not_ok "the loaded image's tree equals umoci's unpack of the fixture"
    note "$(diff "$TMPD/list-fixture" "$TMPD/list-skopeo" | head)"; fi
sx umount sk
sx rm sk
sx pull -q "docker-archive:$TMPD/skopeo.tar:busybox:1"
check_rc "pull docker-archive:FILE:NAME" 0
sx pull -q "docker-archive:$TMPD/skopeo.tar:@0"
check_rc "pull docker-archive:FILE:@0" 0
sx pull "docker-archive:$TMPD/skopeo.tar:@1"
check_error "pull docker-archive:FILE:@1 of a one-image archive fails" 125 "no image @1"

# ---------------------------------------------------------------- image prune
# an archive saved by ID names no image: loaded, it is dangling
sx images -q --no-trunc
BID=$OUT
sx save -o "$TMPD/byid.tar" "$BID"
check_eq "save by ID writes RepoTags null" "null" "$(tar xOf "$TMPD/byid.tar" manifest.json | jq -c '.[0].RepoTags')"
sx rmi busybox:1
sx load -i "$TMPD/byid.tar"
check_eq "load of an unnamed image prints its ID" "Loaded image ID: $BID" "$OUT"
sx images -q --no-trunc --filter dangling=true
check_eq "the unnamed image is dangling" "$BID" "$OUT"
sx image prune -f
check_rc "image prune -f" 0
check_eq "image prune reports what it deleted (image, then its layers)" \
    "Deleted Images:|deleted: $BID|deleted: sha256:" "$(printf '%s\n' "$OUT" | head -3 | cut -c1-80 | paste -sd'|' | sed 's/\(deleted: sha256:\)[0-9a-f]*$/\1/')"
check_match "image prune totals the space" "$OUT" '^Total reclaimed space: [0-9.]+[kM]?B$'
check_eq "image prune leaves no image and no layer" "" "$(store_leftovers)"
sx image prune -f
check_eq "image prune with nothing to do" "Total reclaimed space: 0B" "$OUT"
sx load -i "$TMPD/skopeo.tar"
sx image prune -f
check_eq "image prune keeps named images" "Total reclaimed space: 0B" "$OUT"
sx image prune -a -f
check_contains "image prune -a removes unused named images" "$OUT" "untagged: busybox:1"

# ---------------------------------------------------------------- hostile archives
# built from the skopeo archive: manifest.json, config, layer tars
mkdir -p "$TMPD/h" && tar xf "$TMPD/skopeo.tar" -C "$TMPD/h" || die "cannot unpack skopeo.tar"
python3 - "$TMPD/h" "$TMPD" <<'EOF' || die "cannot build the hostile archives"
import io, json, os, sys, tarfile, hashlib
src, out = sys.argv[1], sys.argv[2]
man = json.load(open(os.path.join(src, "manifest.json")))
def build(name, members):
    with tarfile.open(os.path.join(out, name), "w", format=tarfile.PAX_FORMAT) as t:
        for n, data in members:
            ti = tarfile.TarInfo(n); ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
def base():
    m = [("manifest.json", json.dumps(man).encode())]
    for f in [man[0]["Config"]] + man[0]["Layers"]:
        m.append((f, open(os.path.join(src, f), "rb").read()))
    return m
build("h-dotdot.tar", base() + [("../x", b"escape")])
build("h-absolute.tar", base() + [("/abs-x", b"escape")])
build("h-bigmanifest.tar", [("manifest.json", b" " * (5 << 20) + json.dumps(man).encode())] + base()[1:])
m2 = json.loads(json.dumps(man)); m2[0]["Layers"][-1] = "missing.tar"
build("h-missing.tar", [("manifest.json", json.dumps(m2).encode())] + base()[1:])
cfg = json.load(open(os.path.join(src, man[0]["Config"])))
cfg["rootfs"]["diff_ids"][0] = "sha256:" + "0" * 64
cb = json.dumps(cfg).encode()
m3 = json.loads(json.dumps(man)); m3[0]["Config"] = "bad.json"
# Docker 25's layout: every member under blobs/sha256/, by digest (a good one)
ob = [("blobs/sha256/" + hashlib.sha256(d).hexdigest(), d) for _, d in base()[1:]]
m4 = [{"Config": ob[0][0], "RepoTags": ["ocistyle:1"], "Layers": [n for n, _ in ob[1:]]}]
build("ocistyle.tar", [("manifest.json", json.dumps(m4).encode()), ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')] + ob)
build("h-diffid.tar", [("manifest.json", json.dumps(m3).encode()), ("bad.json", cb)] + base()[1:])
EOF
setup_store
sx load -i "$TMPD/ocistyle.tar"
check_eq "load of Docker 25's blobs/sha256 layout" "Loaded image: ocistyle:1" "$OUT"
for h in "dotdot:escapes the archive" "absolute:absolute name" "bigmanifest:too large" \
         "missing:no member 'missing.tar'" "diffid:does not match the config's diff_id"; do
    n=${h%%:*}; msg=${h#*:}
    setup_store
    sx load -i "$TMPD/h-$n.tar"
    check_error "hostile archive ($n) fails with one line" 1 "$msg"
    check_eq "hostile archive ($n) leaves no image, layer or temporary file" "" "$(store_leftovers)"
done
check_eq "nothing was written outside the store" "absent" "$([ -e "$TMPD/x" ] || [ -e /abs-x ] && echo present || echo absent)"

# ---------------------------------------------------------------- refusals
sx save "$IMG" </dev/null
check_error "save of an unknown image" 1 "No such image"

[ -n "$BTRFS_MNT" ] && umount -l "$BTRFS_MNT"
finish
