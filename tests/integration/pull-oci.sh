#!/bin/bash
# pull-oci.sh - `strata pull oci:DIR:TAG` with images written by umoci and
# skopeo (gzip, zstd, uncompressed, trailer-less tar, multi-arch index, a
# corrupt blob), then `images` and `history` in Docker's formats.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store

BB=$FIXTURES/busybox
IMG=localhost/busybox:1
CONFIG=$(fx_config "$BB" 1)               # sha256:... = the image ID
ID=${CONFIG#sha256:}; ID=${ID:0:12}
MANIFEST=$(fx_manifest "$BB" 1)
mapfile -t LAYERS < <(fx_layers "$BB" 1)
[ -n "$CONFIG" ] && [ ${#LAYERS[@]} -eq 4 ] || die "cannot read $BB (fixtures broken?)"

# ---------------------------------------------------------------- corrupt blob
# one byte of the largest layer blob flipped; the gzip stream still inflates
# to the right tar, so only the digest check can catch it
BAD=$(cat "$FIXTURES/corrupt.digest")
sx pull "oci:$FIXTURES/corrupt:1"
check_error "pull of a corrupt blob fails with exit 125 and one error line" 125 "${BAD#sha256:}" digest
check_ok "images after the failed pull" images -q
check_eq "images -q is empty after the failed pull" "" "$OUT"
store_has_no_temp "failed pull"
store_has_no_layers "failed pull"

# the last layer corrupt: layers 1-3 get imported before the pull fails,
# and must go again (a failed pull leaves the store as it was)
setup_store
BAD=$(cat "$FIXTURES/corrupt-last.digest")
sx pull "oci:$FIXTURES/corrupt-last:1"
check_error "pull with a corrupt last layer fails with exit 125 and one error line" 125 "${BAD#sha256:}" digest
sx images -q
check_eq "images -q is empty after the failed pull (corrupt last layer)" "" "$OUT"
store_has_no_temp "failed pull (corrupt last layer)"
store_has_no_layers "failed pull (corrupt last layer)"

# ---------------------------------------------------------------- pull
setup_store
sx pull "oci:$BB:1"
check_rc "pull oci:busybox:1" 0
for d in "${LAYERS[@]}"; do
    h=${d#sha256:}
    check_match "pull: '${h:0:12}: Pull complete'" "$OUT" "^${h:0:12}: Pull complete$"
done
check_match "pull: 'Digest: $MANIFEST'" "$OUT" "^Digest: $MANIFEST$"
check_match "pull: 'Status: Downloaded newer image for $IMG'" "$OUT" "^Status: Downloaded newer image for $IMG$"
check_eq "pull: Digest then Status, after the layer lines" "Pull complete|Digest|Status" \
    "$(printf '%s\n' "$OUT" | sed -nE 's/^[0-9a-f]{12}: (Pull complete)$/\1/p; s/^(Digest|Status): .*/\1/p' | uniq | paste -sd'|')"
store_has_no_temp "pull"

sx pull "oci:$BB:1"
check_rc "pull again" 0
check_match "pull again: 'Status: Image is up to date for $IMG'" "$OUT" "^Status: Image is up to date for $IMG$"
check_eq "pull again: every layer 'Already exists'" 4 "$(printf '%s\n' "$OUT" | grep -cE '^[0-9a-f]{12}: Already exists$')"
check_match "pull again: same Digest" "$OUT" "^Digest: $MANIFEST$"
check_not_contains "pull again: nothing pulled" "$OUT" "Pull complete"

check_fail "pull from a missing layout: exit 125" 125 -- pull "oci:$TMPD/no-such-layout:1"
check_fail "pull of a missing tag: exit 125" 125 -- pull "oci:$BB:no-such-tag"

# ---------------------------------------------------------------- images
sx images
check_rc "images" 0
check_table "images: Docker's table" "$OUT" "REPOSITORY|TAG|IMAGE ID|CREATED|SIZE"
check_eq "images: one row" 1 "$(table_rows "$OUT")"
check_eq "images: REPOSITORY" localhost/busybox "$(table_cell "$OUT" 1 1)"
check_eq "images: TAG" 1 "$(table_cell "$OUT" 1 2)"
check_eq "images: IMAGE ID is the config digest's first 12 hex" "$ID" "$(table_cell "$OUT" 1 3)"
check_eq "images: CREATED" "$(ago "$(date -d 2024-01-01T00:00:00Z +%s)")" "$(table_cell "$OUT" 1 4)"
size=$(table_cell "$OUT" 1 5)
# Docker: HumanSizeWithPrecision(size, 3), decimal units; the unpacked
# image is busybox (1,982,256 bytes) plus a few small files
check_line_match "images: SIZE is like '1.98MB'" "$size" '^([0-9]\.[0-9]{1,2}|[0-9]{2}\.[0-9]|[0-9]{1,3})MB$'
check_line_match "images: SIZE is between 1.9 and 2.1 MB" "$size" '^(1\.9[0-9]?|2|2\.0[0-9]?|2\.1)MB$'

sx images -q
check_eq "images -q" "$ID" "$OUT"
sx images --no-trunc
check_eq "images --no-trunc: IMAGE ID" "$CONFIG" "$(table_cell "$OUT" 1 3)"
check_table "images --no-trunc: Docker's table" "$OUT" "REPOSITORY|TAG|IMAGE ID|CREATED|SIZE"

# ---------------------------------------------------------------- history
# config history, oldest first: 4 layers then the CMD (empty_layer)
CB=('/bin/sh -c #(nop) ADD busybox rootfs in /'
    '/bin/sh -c #(nop) ADD file:hello.txt in /hello.txt'
    '/bin/sh -c rm /etc/to-delete.txt'
    '/bin/sh -c rm -rf /data && mkdir /data && echo new > /data/new.txt'
    '/bin/sh -c #(nop)  CMD ["/bin/cat" "/hello.txt"]')
sx history "$IMG"
check_rc "history" 0
check_table "history: Docker's table" "$OUT" "IMAGE|CREATED|CREATED BY|SIZE|COMMENT"
check_eq "history: 5 rows" 5 "$(table_rows "$OUT")"
check_eq "history: top row's IMAGE is the image ID" "$ID" "$(table_cell "$OUT" 1 1)"
check_eq "history: other rows' IMAGE is <missing>" "<missing>|<missing>|<missing>|<missing>" \
    "$(for r in 2 3 4 5; do table_cell "$OUT" $r 1; done | paste -sd'|')"
for r in 1 2 3 4 5; do
    want=$(ellipsis "${CB[5 - r]}" 45)
    check_eq "history: row $r CREATED BY (newest first, 45 chars with …)" "$want" "$(table_cell "$OUT" $r 3)"
done
check_eq "history: CREATED" "$(ago "$(date -d 2024-01-01T00:00:00Z +%s)")" "$(table_cell "$OUT" 5 2)"
check_eq "history: the CMD row (empty_layer) has SIZE 0B" 0B "$(table_cell "$OUT" 1 4)"
check_eq "history: the hello.txt layer has SIZE 19B (its content, as Docker counts)" 19B "$(table_cell "$OUT" 4 4)"
check_line_match "history: the base layer's SIZE is in MB" "$(table_cell "$OUT" 5 4)" '^[0-9.]+MB$'
check_eq "history: COMMENT is empty" "" "$(for r in 1 2 3 4 5; do table_cell "$OUT" $r 5; done | tr -d '\n')"

sx history -q "$IMG"
check_eq "history -q" "$(printf '%s\n' "$ID" '<missing>' '<missing>' '<missing>' '<missing>')" "$OUT"
sx history --no-trunc "$IMG"
check_eq "history --no-trunc: IMAGE" "$CONFIG" "$(table_cell "$OUT" 1 1)"
check_eq "history --no-trunc: CREATED BY in full" "${CB[3]}" "$(table_cell "$OUT" 2 3)"
check_table "history --no-trunc: Docker's table" "$OUT" "IMAGE|CREATED|CREATED BY|SIZE|COMMENT"
sx history -H=false "$IMG"
check_rc "history -H=false" 0
check_eq "history -H=false: CREATED is RFC 3339" 2024-01-01T00:00:00Z "$(table_cell "$OUT" 1 2)"
check_eq "history -H=false: SIZE of the CMD row in bytes" 0 "$(table_cell "$OUT" 1 4)"
check_eq "history -H=false: SIZE of the hello.txt layer in bytes" 19 "$(table_cell "$OUT" 4 4)"
sx history "$ID"
check_eq "history by image ID" "$ID" "$(table_cell "$OUT" 1 1)"
check_fail "history of a missing image: exit 1" 1 -- history localhost/no-such-image:1

# ---------------------------------------------------------------- variants
VARIANTS="1-zstd 1-raw notrailer"
if [ -n "$(fx_manifest "$BB" 1-v2s2)" ]; then VARIANTS="$VARIANTS 1-v2s2"; fi
for t in $VARIANTS; do
    sx pull "oci:$BB:$t"
    check_rc "pull oci:busybox:$t" 0
    check_match "pull $t: Status line" "$OUT" "^Status: (Downloaded newer image|Image is up to date) for localhost/busybox:$t$"
    check_match "pull $t: Digest line" "$OUT" "^Digest: $(fx_manifest "$BB" "$t")$"
    sx run --rm "localhost/busybox:$t" cat /hello.txt
    check_eq "busybox:$t runs cat /hello.txt" "hello from layer 2" "$OUT"
done
# umoci insert writes its whiteouts differently (mode 0, epoch mtime, the
# opaque marker before its directory, an absolute "/" entry): check them too
# (/etc/hostname, /etc/hosts and /etc/resolv.conf are the init layer's, as with Docker)
sx run --rm localhost/busybox:notrailer sh -c 'ls /data; test -e /etc/to-delete.txt && echo still-there; ls /etc | grep -vx -e hostname -e hosts -e resolv.conf'
check_eq "notrailer: whiteout and opaque directory applied" "$(printf '%s\n' new.txt arch group passwd)" "$OUT"

# 1-zstd, 1-raw and 1-v2s2 have busybox:1's config: the same image
sx images -q
check_eq "images -q lists each image once (busybox:1 + variants, notrailer)" 2 "$(printf '%s\n' "$OUT" | grep -c .)"
check_eq "images -q has no duplicates" "$(printf '%s\n' "$OUT" | sort -u)" "$(printf '%s\n' "$OUT" | sort)"
sx images
check_eq "images: one row per tag" $((1 + $(echo "$VARIANTS" | wc -w))) "$(table_rows "$OUT")"
check_table "images: Docker's table with several rows" "$OUT" "REPOSITORY|TAG|IMAGE ID|CREATED|SIZE"

# ---------------------------------------------------------------- default tag
# oci:DIR without a tag means the tag "latest" (a copy tagged by umoci)
mkdir -p "$TMPD/lay"
cp -a "$BB" "$TMPD/lay/busybox"
umoci tag --image "$TMPD/lay/busybox:1" latest || die "umoci tag failed"
sx pull "oci:$TMPD/lay/busybox"
check_rc "pull oci:DIR (no tag)" 0
check_match "pull oci:DIR: the tag defaults to latest" "$OUT" "^Status: (Downloaded newer image|Image is up to date) for localhost/busybox:latest$"
sx images
check_match "images: localhost/busybox latest" "$OUT" "^localhost/busybox +latest +$ID "

# ---------------------------------------------------------------- multi-arch
# linux/arm64 is listed first; this amd64 host must pick linux/amd64
if [ "$(uname -m)" = x86_64 ]; then
    sx pull "oci:$FIXTURES/multi:1"
    check_rc "pull oci:multi:1 (OCI index)" 0
    check_match "pull multi:1: Status line" "$OUT" "^Status: (Downloaded newer image|Image is up to date) for localhost/multi:1$"
    # as Docker: the digest of what the name points at, the index
    check_match "pull multi:1: Digest is the index's" "$OUT" "^Digest: $(fx_manifest "$FIXTURES/multi" 1)$"
    sx inspect -f '{{index .RepoDigests 0}}' localhost/multi:1
    check_eq "multi:1: RepoDigests names the index" "localhost/multi@$(fx_manifest "$FIXTURES/multi" 1)" "$OUT"
    sx run --rm localhost/multi:1 cat /etc/arch
    check_eq "multi:1: the amd64 image was picked" amd64 "$OUT"
    sx inspect localhost/multi:1
    check_eq "multi:1: inspect .[0].Architecture" amd64 "$(printf '%s' "$OUT" | jq -r '.[0].Architecture' 2>&1)"
    check_eq "multi:1: its image ID is the amd64 config's" "$CONFIG" "$(printf '%s' "$OUT" | jq -r '.[0].Id' 2>&1)"
else
    echo "# multi-arch checks need an amd64 host (the fixture's amd64 entry is the right one there)"
fi

store_has_no_temp "after all pulls"

# ---------------------------------------------------------------- concurrency, crashes
# two pulls of images sharing every layer, at once, into a new store
setup_store
st pull "oci:$BB:1" >"$TMPD/p1" 2>&1 & p1=$!
st pull "oci:$BB:1-zstd" >"$TMPD/p2" 2>&1 & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check_eq "two concurrent pulls both succeed" "0 0" "$r1 $r2" || sed 's/^/#     /' "$TMPD/p1" "$TMPD/p2"
sx images -q
check_eq "after concurrent pulls: one image" "$ID" "$OUT"
sx run --rm localhost/busybox:1-zstd cat /hello.txt
check_eq "after concurrent pulls: the image runs" "hello from layer 2" "$OUT"
store_has_no_temp "concurrent pulls"

# a pull killed (SIGKILL) part way: the next command that writes the store
# cleans up, and the same pull then works
setup_store
(   # a subshell, whose stderr takes bash's "Killed" notice
    "$STRATA" --root "$ROOT" pull "oci:$BB:1" >/dev/null 2>&1 </dev/null & pk=$!
    # kill it as soon as it has staged something (or after 5 s at most)
    for _ in $(seq 500); do
        [ -n "$(find "$ROOT/tmp" "$ROOT"/storage/*/* -mindepth 1 -print -quit 2>/dev/null)" ] && break
        kill -0 $pk 2>/dev/null || break
        sleep 0.01
    done
    if kill -KILL $pk 2>/dev/null; then
        echo "# killed the pull with $(find "$ROOT/tmp" "$ROOT/storage" -mindepth 1 2>/dev/null | wc -l) entries staged"
    else
        echo "# the pull finished before it could be killed"
    fi
    wait $pk
) 2>/dev/null
sx pull "oci:$BB:1"
check_rc "pull after a killed pull" 0
sx run --rm "$IMG" cat /hello.txt
check_eq "after a killed pull: the image runs" "hello from layer 2" "$OUT"
store_has_no_temp "after a killed pull and a new pull"
sx rmi "$IMG"
check_rc "rmi after a killed pull" 0
store_has_no_layers "rmi after a killed pull (no orphan layers)"

finish
