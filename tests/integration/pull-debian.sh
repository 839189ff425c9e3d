#!/bin/bash
# pull-debian.sh - the big real-world image, debian:12 (debootstrap + apt,
# built by umoci: a 63 MB gzip layer of 6,600 entries and an apt layer with
# whiteouts), from a real registry on 127.0.0.1, pushed by skopeo as Docker
# schema2 and as OCI:
#   - each pull's tree is the one `umoci unpack` makes of the same layout;
#   - the transcript is Docker's, line by line and in order (not a TTY), live
#     bars on a TTY, one JSON object a line with --progress=json;
#   - layers download in parallel (the proxy sees overlapping requests), one
#     at a time with --max-concurrent-downloads 1 or the config key, and
#     extraction starts while the download is still running;
#   - peak RSS stays under 64 MB;
#   - a pull killed with SIGKILL half-way resumes with a Range request and
#     fetches fewer bytes than the blob;
#   - a layer that fails its digest while another is extracting: exit 125,
#     one error line, no layer, no partial file.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
for t in docker-registry skopeo umoci python3 curl script; do
    command -v "$t" >/dev/null || die "$t is needed (bash tests/install-deps.sh)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is needed (apt-get install time)"
need_fixtures
need_debian
setup_store

DEB=$FIXTURES/debian
FX=$srcdir/tests/fixtures
RD=$TMPD/registries
MAN=$(fx_blob "$DEB" "$(fx_manifest "$DEB" 12)")
[ -f "$MAN" ] || die "cannot read $DEB (fixtures broken?)"
BIG=$(jq -r '.layers[0].digest' "$MAN") SMALL=$(jq -r '.layers[1].digest' "$MAN")
BIGSIZE=$(jq -r '.layers[0].size' "$MAN")
big=${BIG:7:12} small=${SMALL:7:12}
# chain IDs: the rootfs layer's is its diff_id, the apt layer's hashes both
CFG=$(fx_blob "$DEB" "$(jq -r '.config.digest' "$MAN")")
CHAIN1=$(jq -r '.rootfs.diff_ids[0]' "$CFG")
CHAIN2=sha256:$(printf '%s %s' "$CHAIN1" "$(jq -r '.rootfs.diff_ids[1]' "$CFG")" | sha256sum | cut -c1-64)

stop_all() {
    bash "$FX/registry.sh" stop "$RD/plain" >/dev/null 2>&1
    [ -f "$RD/proxy.pid" ] && kill "$(cat "$RD/proxy.pid")" 2>/dev/null
    return 0
}
trap 'rc=$?; stop_all; (exit $rc); cleanup' EXIT

mkdir -p "$RD"
P=$(bash "$FX/registry.sh" start "$RD/plain" http --data "$RD/data" 2>"$RD/start.err") ||
    { cat "$RD/start.err"; die "cannot start the registry"; }
X=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# 16 MB/s through /v2/slow/: the big layer takes four seconds, long enough to
# see extraction start on a loaded machine
setsid python3 "$FX/fault-proxy.py" --port "$X" --upstream "127.0.0.1:$P" --log "$RD/proxy.log" \
    --xfer-log "$RD/xfer.log" --slow-rate $((16 << 20)) >"$RD/proxy.out" 2>&1 </dev/null &
echo $! > "$RD/proxy.pid"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$X/v2/" && break; sleep 0.05; done
R=127.0.0.1:$P PX=127.0.0.1:$X
push() { skopeo copy -q --dest-tls-verify=false "$@" >"$RD/push.log" 2>&1 || { cat "$RD/push.log"; die "skopeo copy $* failed"; }; }
push --format v2s2 "oci:$DEB:12" "docker://$R/debian:12"
push --format oci "oci:$DEB:12" "docker://$R/debian:12-oci"
push --format v2s2 "oci:$FIXTURES/busybox:1" "docker://$R/busybox:1"
export STRATA_CONFIG=$TMPD/config.json
printf '{"insecure-registries": ["%s", "%s"]}\n' "$R" "$PX" > "$STRATA_CONFIG"
mdigest() {
    curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json' \
        "http://$R/v2/debian/manifests/$1" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}

# line number of the first "ID: STATUS" line of the transcript in OUT
at() { printf '%s\n' "$OUT" | grep -n -m1 -x "$1: $2" | cut -d: -f1; }
check_layer_lines() { # DESC ID : Docker's events, each once and in order
    local id=$2 prev=0 n s bad=
    for s in "Pulling fs layer" Downloading "Verifying Checksum" "Download complete" Extracting "Pull complete"; do
        n=$(at "$id" "$s")
        if [ -z "$n" ]; then bad="no '$id: $s' line"; break; fi
        if [ "$n" -le "$prev" ]; then bad="'$id: $s' is out of order"; break; fi
        [ "$(printf '%s\n' "$OUT" | grep -c -x "$id: $s")" -eq 1 ] || { bad="'$id: $s' more than once"; break; }
        prev=$n
    done
    if [ -z "$bad" ]; then ok "$1"; else not_ok "$1"; note "$bad"; show_last; fi
}

# ---------------------------------------------------------------- Docker schema2, copy driver
export STRATA_STORAGE_DRIVER=copy
LAST_CMD="pull $R/debian:12"
/usr/bin/time -f %M -o "$TMPD/rss" "$STRATA" --root "$ROOT" pull "$R/debian:12" >"$TMPD/out" 2>"$TMPD/err" </dev/null
RC=$? OUT=$(cat "$TMPD/out") ERR=$(cat "$TMPD/err")
check_rc "pull $R/debian:12 (Docker schema2)" 0
rss=$(cat "$TMPD/rss")
if [ -n "$rss" ] && [ "$rss" -lt $((64 * 1024)) ]; then ok "peak RSS of the debian:12 pull is under 64 MB ($((rss / 1024)) MB)"
else not_ok "peak RSS of the debian:12 pull is under 64 MB"; note "max RSS: ${rss:-?} kB"; fi
check_eq "transcript: first line" "12: Pulling from debian" "$(printf '%s\n' "$OUT" | head -1)"
check_layer_lines "transcript: $big (the rootfs layer): Pulling fs layer, Downloading, Verifying Checksum, Download complete, Extracting, Pull complete" "$big"
check_layer_lines "transcript: $small (the apt layer): the same events in the same order" "$small"
check_eq "transcript: no escape sequences or bars off a terminal" "" "$(printf '%s\n' "$OUT" | grep -E $'\e|\\[=' | head -3)"
check_eq "transcript: the last three lines" "Digest: $(mdigest 12)
Status: Downloaded newer image for $R/debian:12
$R/debian:12" "$(printf '%s\n' "$OUT" | tail -3)"
check_tree "debian:12: extracted tree matches umoci unpack" "$R/debian:12" "$DEB:12"
sx run --rm "$R/debian:12" /bin/sh -c 'test ! -e /var/cache/apt/pkgcache.bin && cat /etc/debian_version'
check_match "debian:12 runs, and the apt layer's whiteouts hid what they name" "$OUT" '^12\.'
store_has_no_temp "debian:12"
sx pull "$R/debian:12"
check_eq "pull again: both layers already exist" "$big: Already exists
$small: Already exists" "$(printf '%s\n' "$OUT" | grep 'Already exists')"
check_match "pull again: Image is up to date" "$OUT" "^Status: Image is up to date for $R/debian:12$"

# ---------------------------------------------------------------- OCI manifest, copy driver
setup_store
sx pull "docker://$R/debian:12-oci"
check_rc "pull $R/debian:12-oci (OCI manifest)" 0
check_match "debian:12-oci: Digest is the registry's" "$OUT" "^Digest: $(mdigest 12-oci)$"
check_tree "debian:12-oci: extracted tree matches umoci unpack" "$R/debian:12-oci" "$DEB:12"
unset STRATA_STORAGE_DRIVER

# ---------------------------------------------------------------- parallel, streamed (overlay)
# The apt layer, started at the same time, is done long before the rootfs
# layer, and is written beside it while the rootfs layer is still being
# written; and the rootfs layer's files appear while its blob is still coming.
setup_store
: > "$RD/xfer.log"
( exec "$STRATA" --root "$ROOT" --log-level debug pull --progress=json "$PX/slow/debian:12" >"$TMPD/json" 2>"$TMPD/json.err" </dev/null ) &
pid=$!
early=
for _ in $(seq 1000); do
    if [ -n "$(find "$ROOT/storage" -path "*/staging/${CHAIN1#sha256:}/diff/*" -type f -print -quit 2>/dev/null)" ]; then
        # the blob's size once a file is seen: if it is still short of the
        # whole, the file came before the download ended (read before the
        # find, a slow find could see a file that came after it)
        part=$(stat -c %s "$ROOT/downloads/${BIG#sha256:}.partial" 2>/dev/null || echo 0)
        [ "$part" -gt 0 ] && [ "$part" -lt "$BIGSIZE" ] && early=$part
        break
    fi
    sleep 0.02
done
wait "$pid"; RC=$?
OUT=$(cat "$TMPD/json") ERR=$(cat "$TMPD/json.err") LAST_CMD="pull --progress=json $PX/slow/debian:12"
check_rc "pull --progress=json $PX/slow/debian:12 (overlay)" 0
if [ -n "$early" ]; then ok "extraction started while the blob was downloading ($early of $BIGSIZE bytes in)"
else not_ok "extraction started while the blob was downloading"; fi
check_match "overlay: the apt layer was written beside the rootfs layer, at the same time" \
    "$ERR" "layer ${CHAIN2:7:12}: written beside its parent"
if printf '%s\n' "$ERR" | grep -q "writing it again"; then
    not_ok "overlay: the apt layer needed nothing of the rootfs layer's tree"
else ok "overlay: the apt layer needed nothing of the rootfs layer's tree"; fi
check_eq "--progress=json: every line is a JSON object" "" \
    "$(printf '%s\n' "$OUT" | while IFS= read -r l; do printf '%s\n' "$l" | jq -e 'type == "object"' >/dev/null 2>&1 || printf '%s\n' "$l"; done | head -3)"
check_eq "--progress=json: Docker's events for $big" \
    "Pulling fs layer Downloading Verifying Checksum Download complete Extracting Pull complete" \
    "$(printf '%s\n' "$OUT" | jq -r --arg id "$big" 'select(.id == $id) | .status' | uniq | paste -sd' ')"
check_match "--progress=json: download progress in bytes" \
    "$(printf '%s\n' "$OUT" | jq -c --arg id "$big" 'select(.id == $id and .status == "Downloading") | .progressDetail')" \
    "^\{\"current\":[1-9][0-9]*,\"total\":$BIGSIZE\}$"
check_eq "--progress=json: the status object" "Status: Downloaded newer image for $PX/slow/debian:12" \
    "$(printf '%s\n' "$OUT" | jq -r 'select(.status | startswith("Status:")) | .status')"
# "blob PATH range=R start=T0 end=T1 bytes=N": did the two requests overlap?
overlap() {
    awk -v a="$BIG" -v b="$SMALL" '
        index($2, a) { split($4, s, "="); split($5, e, "="); a0 = s[2]; a1 = e[2] }
        index($2, b) { split($4, s, "="); split($5, e, "="); b0 = s[2]; b1 = e[2] }
        END { print (a0 != "" && b0 != "" && a0 < b1 && b0 < a1) ? "overlapping" : "one after the other" }' "$RD/xfer.log"
}
check_eq "default: both blobs downloaded at the same time (the proxy saw overlapping requests)" overlapping "$(overlap)"
sx run --rm "$PX/slow/debian:12" cat /etc/debian_version
check_match "the overlay image runs" "$OUT" '^12\.'

setup_store
: > "$RD/xfer.log"
sx pull --max-concurrent-downloads 1 "$PX/slow/debian:12"
check_rc "pull --max-concurrent-downloads 1" 0
check_eq "--max-concurrent-downloads 1: one blob after the other" "one after the other" "$(overlap)"
check_line_match "--max-concurrent-downloads 1: the apt layer waits" "$(printf '%s\n' "$OUT" | grep Waiting)" "^$small: Waiting$"
check_fail "--max-concurrent-downloads 0: refused" 125 "max-concurrent-downloads" -- pull --max-concurrent-downloads 0 "$R/busybox:1"

# the config key, with busybox's four layers: all but one wait
setup_store
printf '{"insecure-registries": ["%s"], "max-concurrent-downloads": 1}\n' "$R" > "$TMPD/one.json"
STRATA_CONFIG=$TMPD/one.json sx pull "$R/busybox:1"
check_rc "config max-concurrent-downloads 1: pull busybox:1" 0
check_eq "config max-concurrent-downloads 1: three layers wait" 3 "$(printf '%s\n' "$OUT" | grep -c ': Waiting$')"
setup_store
sx pull "$R/busybox:1"
check_eq "default (3): one of four layers waits" 1 "$(printf '%s\n' "$OUT" | grep -c ': Waiting$')"
printf '{"max-concurrent-downloads": "many"}\n' > "$TMPD/bad.json"
STRATA_CONFIG=$TMPD/bad.json check_fail "config max-concurrent-downloads that is no number: refused" 125 \
    "max-concurrent-downloads must be an integer" -- pull "$R/busybox:1"

# ---------------------------------------------------------------- a terminal
setup_store
script -qec "stty cols 150; $STRATA --root $ROOT pull $PX/slow/debian:12" "$TMPD/tty" >/dev/null 2>&1 </dev/null
RC=$?
check_rc "pull on a terminal (script)" 0
tty=$(tr '\r' '\n' < "$TMPD/tty")
check_match "terminal: progress bars as Docker draws them" "$tty" \
    "^.*$big: Downloading \[=+> *\] +[0-9.]+[kM]B/$(awk -v n="$BIGSIZE" 'BEGIN { printf "%.4g", n / 1e6 }')MB"
check_contains "terminal: lines redrawn in place (cursor up, clear line)" "$(cat -v "$TMPD/tty")" "^[[2A^M^[[2K$big: "
check_match "terminal: each layer ends on Pull complete" "$tty" "$small: Pull complete"

# ---------------------------------------------------------------- SIGKILL half-way, then resume
setup_store
: > "$RD/xfer.log"
( exec "$STRATA" --root "$ROOT" pull "$PX/slow/debian:12" >/dev/null 2>&1 </dev/null ) &
killed=$!
have=0
for _ in $(seq 300); do
    have=$(stat -c %s "$ROOT/downloads/${BIG#sha256:}.partial" 2>/dev/null || echo 0)
    [ "$have" -gt $((16 << 20)) ] && break
    sleep 0.02
done
kill -9 "$killed" 2>/dev/null; wait "$killed" 2>/dev/null
have=$(stat -c %s "$ROOT/downloads/${BIG#sha256:}.partial" 2>/dev/null || echo 0)
if [ "$have" -gt $((16 << 20)) ] && [ "$have" -lt "$BIGSIZE" ]; then ok "SIGKILL after 16 MB leaves the partial blob ($have of $BIGSIZE bytes)"
else not_ok "SIGKILL after 16 MB leaves the partial blob"; note "partial: $have bytes of $BIGSIZE"; fi
: > "$RD/xfer.log"
sx pull "$PX/slow/debian:12"
check_rc "pull after the SIGKILLed pull" 0
check_match "after SIGKILL: the blob was resumed with a Range request from byte $have" "$(cat "$RD/xfer.log")" \
    "/blobs/$BIG range=bytes=$have- "
# (the killed pull's own request may still be logged after the reset: its
# range is "-")
fetched=$(awk -v b="$BIG" 'index($2, b) && $3 != "range=-" { split($6, n, "="); t += n[2] } END { print t + 0 }' "$RD/xfer.log")
if [ "$fetched" -gt 0 ] && [ "$fetched" -eq $((BIGSIZE - have)) ]; then
    ok "after SIGKILL: $fetched bytes fetched instead of $BIGSIZE"
else not_ok "after SIGKILL: fewer bytes fetched than the blob"; note "fetched $fetched of $BIGSIZE, had $have"; fi
check_eq "after SIGKILL: no partial download left" "" "$(find "$ROOT/downloads" -type f 2>/dev/null)"
store_has_no_temp "after SIGKILL and a new pull"
sx run --rm "$PX/slow/debian:12" cat /etc/debian_version
check_match "after SIGKILL: the resumed image runs" "$OUT" '^12\.'

# ---------------------------------------------------------------- a bad blob while another extracts
# The apt layer (which downloads first) fails its digest while the rootfs
# layer is being extracted: the pull stops, everything it made goes.
setup_store
F=$RD/data/docker/registry/v2/blobs/sha256/${SMALL:7:2}/${SMALL#sha256:}/data
[ -f "$F" ] || die "no blob file $F"
flip() { # the gzip header's MTIME byte: still inflates, only the digest tells
    local old
    old=$(od -An -tu1 -j4 -N1 "$F" | tr -d ' ')
    printf "$(printf '\\%03o' $((old ^ 0xff)))" | dd of="$F" bs=1 seek=4 count=1 conv=notrunc status=none
}
flip
sx pull "$PX/slow/debian:12"
flip
check_error "a corrupt apt layer: exit 125, one error line naming it" 125 "${SMALL#sha256:}" "digest mismatch"
store_has_no_layers "corrupt layer during a parallel pull"
store_has_no_temp "corrupt layer during a parallel pull"
check_eq "corrupt layer: no partial download left" "" "$(find "$ROOT/downloads" -type f 2>/dev/null)"

finish
