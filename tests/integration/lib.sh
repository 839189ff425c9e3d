# lib.sh - helpers for strata's integration tests.  Sourced, never run.
#
# Environment (set by `make check`; set them by hand to run one script):
#   STRATA              the strata binary to run (may be a libtool wrapper)
#   STRATA_PLUGIN_PATH  colon-separated plugin directories (passed through)
#   srcdir              the source tree (for tests/fixtures/mkoci.sh)
#   FIXTURES            cache of mkoci.sh's output, built once (under a lock)
#   STRATA_TEST_TIMEOUT seconds one strata command may take (default 60)
#   STRATA_TEST_KEEP=1  keep the test's temporary store for a post-mortem
#
# Exit codes: 0 all checks passed, 1 a check failed, 77 skipped (the host
# lacks something: root), 99 the test could not be set up (no fixtures).
#
# A script does:   . "$(dirname "$0")/lib.sh"; need_root; need_fixtures;
#                  setup_store; ...checks...; finish
# Each check prints "ok - DESC" or "not ok - DESC" (plus "#" detail lines).

set -u

TEST_NAME=$(basename "$0" .sh)
PASS=0
FAIL=0
TMPD=
ROOT=
OUT=
ERR=
RC=0
export TZ=UTC

if [ -z "${STRATA:-}" ]; then
    echo "$TEST_NAME: STRATA is not set (the strata binary to test)" >&2
    exit 99
fi
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
FIXTURES=${FIXTURES:-${TMPDIR:-/tmp}/strata-fixtures}
STRATA_TEST_TIMEOUT=${STRATA_TEST_TIMEOUT:-60}
[ -n "${STRATA_PLUGIN_PATH:-}" ] && export STRATA_PLUGIN_PATH
command -v jq >/dev/null || { echo "$TEST_NAME: jq is needed (apt-get install jq)" >&2; exit 99; }

# ---------------------------------------------------------------- results
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
note() { printf '%s\n' "$@" | sed 's/^/#   /'; }
skip_all() { echo "SKIP: $TEST_NAME: $*"; exit 77; }
die() { echo "ERROR: $TEST_NAME: $*" >&2; exit 99; }

finish() {
    echo "$TEST_NAME: $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}

# Shows what the last strata command printed (after a failed check).
show_last() {
    note "last command: strata $LAST_CMD" "exit code: $RC"
    [ -n "$OUT" ] && { echo "#   stdout:"; printf '%s\n' "$OUT" | sed 's/^/#     /'; }
    [ -n "$ERR" ] && { echo "#   stderr:"; printf '%s\n' "$ERR" | sed 's/^/#     /'; }
    return 0
}

# ---------------------------------------------------------------- setup
need_root() {
    [ "$(id -u)" = 0 ] || skip_all "needs root (chroot, file owners)"
}

# Builds the fixtures once into $FIXTURES (rebuilt when mkoci.sh changes).
need_fixtures() {
    local mk="$srcdir/tests/fixtures/mkoci.sh" stamp
    [ -f "$mk" ] || die "no $mk (is srcdir right?)"
    stamp=$(sha256sum < "$mk" | cut -c1-64)
    mkdir -p "$FIXTURES" || die "cannot create $FIXTURES"
    (
        flock -w 600 9 || exit 1
        if [ ! -f "$FIXTURES/busybox/index.json" ] ||
           [ "$(cat "$FIXTURES/.mkoci-stamp" 2>/dev/null)" != "$stamp" ]; then
            rm -f "$FIXTURES/.mkoci-stamp"
            if ! bash "$mk" "$FIXTURES" > "$FIXTURES/mkoci.log" 2>&1; then
                sed 's/^/# mkoci: /' "$FIXTURES/mkoci.log"
                exit 1
            fi
            echo "$stamp" > "$FIXTURES/.mkoci-stamp"
        fi
    ) 9>>"$FIXTURES/.lock" || die "could not build the fixtures with $mk (needs umoci, skopeo, busybox-static, GNU tar, jq)"
}

# build_fixture NAME WHAT: runs tests/fixtures/mkNAME.sh into $FIXTURES
# (one test at a time: the scripts cache what they built)
build_fixture() {
    local mk="$srcdir/tests/fixtures/mk$1.sh"
    mkdir -p "$FIXTURES" || die "cannot create $FIXTURES"
    (
        flock -w 900 9 || exit 1
        bash "$mk" "$FIXTURES" > "$FIXTURES/mk$1.log" 2>&1 ||
            { sed "s/^/# mk$1: /" "$FIXTURES/mk$1.log"; exit 1; }
    ) 9>>"$FIXTURES/.lock" || die "could not build $2 with $mk (needs debootstrap, umoci and the Debian mirror)"
}

# Builds the debian:12 layout once into $FIXTURES/debian (debootstrap from
# the Debian mirror: about a minute the first time, then cached).
need_debian() { build_fixture debian debian:12; }

# Builds layered:1 once into $FIXTURES/layered: debian:12's rootfs in six
# layers (about 10 s from the rootfs need_debian caches; mklayered.sh runs
# mkdebian.sh first when that is missing).
need_layered() { build_fixture layered layered:1; }

# A fresh, empty store in ROOT (a new one each call; all go at exit).
setup_store() {
    if [ -z "$TMPD" ]; then
        TMPD=$(mktemp -d "${TMPDIR:-/tmp}/strata-$TEST_NAME.XXXXXX") || die "mktemp failed"
        trap cleanup EXIT
        trap 'exit 130' INT TERM
    fi
    ROOT=$(mktemp -d "$TMPD/root.XXXXXX")
    rmdir "$ROOT"          # strata makes it (0700)
}

cleanup() {
    local rc=$? m
    [ -n "$TMPD" ] && [ -d "$TMPD" ] || exit $rc
    # never let rm -rf walk into a mount a container left behind
    for m in $(awk -v d="$TMPD/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null
    done
    if [ -n "${STRATA_TEST_KEEP:-}" ]; then
        echo "# kept $TMPD"
    else
        rm -rf --one-file-system "$TMPD"
    fi
    exit $rc
}

# ---------------------------------------------------------------- running strata
st() { timeout -k 5 "$STRATA_TEST_TIMEOUT" "$STRATA" --root "$ROOT" "$@" </dev/null; }

# sx ARGS... : runs strata, keeps stdout in OUT, stderr in ERR, status in RC.
sx() {
    LAST_CMD="--root \$ROOT $*"
    st "$@" >"$TMPD/out" 2>"$TMPD/err"
    RC=$?
    OUT=$(cat "$TMPD/out")
    ERR=$(cat "$TMPD/err")
    [ "$RC" -eq 124 ] && note "strata $* timed out after ${STRATA_TEST_TIMEOUT}s"
    return 0
}

# container_pid PID COMM : the host PID of the process named COMM below
# PID (a background `st run ...`: subshell, timeout, strata, the container's
# process); waits up to 5 s for it, prints nothing if it never shows.
container_pid() {
    local level next p c _
    for _ in $(seq 50); do
        level=$1
        while [ -n "$level" ]; do
            next=
            for p in $level; do
                for c in $(pgrep -P "$p"); do
                    [ "$(cat "/proc/$c/comm" 2>/dev/null)" = "$2" ] && { echo "$c"; return 0; }
                    next="$next $c"
                done
            done
            level=$next
        done
        sleep 0.1
    done
}

# ---------------------------------------------------------------- checks
check_eq() { # DESC EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else
        not_ok "$1"; note "expected: '$2'" "got:      '$3'"; return 1; fi
}

check_rc() { # DESC EXPECTED : the last sx's exit code
    if [ "$RC" = "$2" ]; then ok "$1"; else
        not_ok "$1"; note "expected exit code $2"; show_last; return 1; fi
}

check_contains() { # DESC HAYSTACK NEEDLE
    case $2 in
        *"$3"*) ok "$1" ;;
        *) not_ok "$1"; note "'$3' not found in:"; printf '%s\n' "$2" | sed 's/^/#     /'; return 1 ;;
    esac
}

check_not_contains() { # DESC HAYSTACK NEEDLE
    case $2 in
        *"$3"*) not_ok "$1"; note "'$3' found in:"; printf '%s\n' "$2" | sed 's/^/#     /'; return 1 ;;
        *) ok "$1" ;;
    esac
}

check_match() { # DESC STRING ERE : some line of STRING matches ERE
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then ok "$1"; else
        not_ok "$1"; note "no line matches /$3/ in:"; printf '%s\n' "$2" | sed 's/^/#     /'; return 1; fi
}

check_line_match() { # DESC STRING ERE : the whole STRING is one line matching ERE
    if [ "$(printf '%s\n' "$2" | wc -l)" -eq 1 ] && printf '%s\n' "$2" | grep -Eq -- "$3"; then ok "$1"; else
        not_ok "$1"; note "expected one line matching /$3/, got:"; printf '%s\n' "$2" | sed 's/^/#     /'; return 1; fi
}

# check_error DESC RC [NEEDLE...] : the last sx failed with exit code RC and
# printed exactly one line on stderr, "strata: error: ...", holding each NEEDLE.
check_error() {
    local desc=$1 want=$2 n bad=''
    shift 2
    [ "$RC" = "$want" ] || bad="exit code $RC, expected $want"
    if [ -z "$bad" ]; then
        if [ "$(printf '%s' "$ERR" | grep -c '')" -ne 1 ]; then
            bad="stderr is not exactly one line"
        elif [ "${ERR#strata: error: }" = "$ERR" ]; then
            bad="stderr does not start with 'strata: error: '"
        else
            for n in "$@"; do
                case $ERR in *"$n"*) ;; *) bad="'$n' not in the error line"; break ;; esac
            done
        fi
    fi
    if [ -z "$bad" ]; then ok "$desc"; else not_ok "$desc"; note "$bad"; show_last; return 1; fi
}

# check_fail DESC RC [NEEDLE...] -- ARGS... : runs strata ARGS and check_error.
check_fail() {
    local desc=$1 want=$2 needles=()
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do needles+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    sx "$@"
    check_error "$desc" "$want" ${needles[@]+"${needles[@]}"}
}

# check_ok DESC ARGS... : runs strata ARGS, passes when it exits 0.
check_ok() {
    local desc=$1
    shift
    sx "$@"
    check_rc "$desc" 0
}

# ---------------------------------------------------------------- the store
# Nothing staged or half-written left behind: ROOT/tmp is empty and no
# temporary-looking entry exists anywhere in the store.
store_has_no_temp() { # DESC-PREFIX
    local left
    left=$(find "$ROOT/tmp" -mindepth 1 2>/dev/null | head -5)
    check_eq "$1: nothing left under ROOT/tmp" "" "$left"
    # (an empty staging directory is fine; anything in one is not; a
    # committed layer's own files may have any name: debian has a
    # var/lib/apt/lists/partial)
    left=$(find "$ROOT" \( -path "$ROOT/tmp" -o -type d -empty -o -path "$ROOT/storage/*/layers/*/*" \) -prune -o \( -iname '*.tmp' -o -iname '.tmp*' \
        -o -iname 'tmp.*' -o -iname '*partial*' -o -iname '*stag*' -o -iname '*.incomplete' -o -iname '*.new' \) \
        -print 2>/dev/null | head -5)
    check_eq "$1: no staged or partial files in the store" "" "$left"
}

# No layer or image exists in the store: no records, no layer contents.
store_has_no_layers() { # DESC-PREFIX
    local left
    left=$(find "$ROOT/layers" "$ROOT/images" -name '*.json' 2>/dev/null | head -5)
    check_eq "$1: no layer or image records" "" "$left"
    left=$(find "$ROOT/storage" -mindepth 1 \( -type f -o -type l \) 2>/dev/null | head -5)
    check_eq "$1: no layer contents under ROOT/storage" "" "$left"
}

# ---------------------------------------------------------------- fixtures
# manifest digest ("sha256:...") of tag TAG in layout DIR (top-level index)
fx_manifest() { jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json"; }
fx_blob() { echo "$1/blobs/sha256/${2#sha256:}"; }                 # DIR DIGEST -> path
fx_config() { jq -r .config.digest "$(fx_blob "$1" "$(fx_manifest "$1" "$2")")"; }   # DIR TAG
fx_layers() { jq -r '.layers[].digest' "$(fx_blob "$1" "$(fx_manifest "$1" "$2")")"; } # DIR TAG

# ---------------------------------------------------------------- tables
# Docker's tables: Go text/tabwriter, minwidth 10, tabwidth 1, padding 3,
# padchar ' ', widths counted in runes.  Cells are cut at the header's
# column starts (header names never hold two blanks in a row).

# table_starts HEADER -> the start offset of each header cell, one a line
table_starts() {
    local LC_ALL=C.UTF-8 h=$1 i n=${#1}
    for ((i = 0; i < n; i++)); do
        [ "${h:i:1}" != " " ] || continue
        if [ "$i" -eq 0 ]; then echo 0
        elif [ "$i" -ge 2 ] && [ "${h:i-2:2}" = "  " ]; then echo "$i"
        fi
    done
}

# table_cell TEXT ROW COL : the trimmed cell of data row ROW (1 = first row
# after the header) in column COL (1-based).
table_cell() {
    local LC_ALL=C.UTF-8 text=$1 row=$2 col=$3 header line s e cell
    local -a starts
    header=$(printf '%s\n' "$text" | sed -n 1p)
    line=$(printf '%s\n' "$text" | sed -n "$((row + 1))p")
    mapfile -t starts < <(table_starts "$header")
    s=${starts[col - 1]:-}
    [ -n "$s" ] || return 0
    e=${starts[col]:-}
    if [ -n "$e" ]; then cell=${line:s:e-s}; else cell=${line:s}; fi
    cell=${cell%"${cell##*[! ]}"}
    printf '%s\n' "$cell"
}

# table_header_names TEXT -> the header names joined by "|"
table_header_names() {
    printf '%s\n' "$1" | sed -n 1p | sed -E 's/ {2,}/|/g'
}

# table_rows TEXT -> number of data rows
table_rows() { printf '%s\n' "$1" | sed 1d | grep -c .; }

# check_table DESC TEXT "NAME|NAME|..." : the header has these columns and
# every line is laid out the way Go's tabwriter (minwidth 10, padding 3) would.
check_table() {
    local LC_ALL=C.UTF-8 desc=$1 text=$2 names=$3 bad='' header line i j w c ncol
    local -a starts lines
    header=$(printf '%s\n' "$text" | sed -n 1p)
    [ "$(table_header_names "$text")" = "$names" ] || bad="header is '$header', expected columns $names"
    if [ -z "$bad" ]; then
        mapfile -t starts < <(table_starts "$header")
        mapfile -t lines < <(printf '%s\n' "$text")
        ncol=${#starts[@]}
        for ((i = 0; i < ncol - 1; i++)); do
            w=0
            for line in "${lines[@]}"; do
                c=${line:starts[i]:starts[i+1]-starts[i]}
                # a cell runs to the next column, or into it: then the
                # next column's start is not preceded by three blanks
                [ "${c: -3}" = "   " ] || { bad="column $((i + 1)) is too narrow for line '$line'"; break; }
                c=${c%"${c##*[! ]}"}
                [ ${#c} -gt "$w" ] && w=${#c}
            done
            [ -n "$bad" ] && break
            w=$((w + 3)); [ "$w" -lt 10 ] && w=10
            j=$((starts[i + 1] - starts[i]))
            [ "$j" -eq "$w" ] || { bad="column $((i + 1)) is $j wide, tabwriter makes it $w"; break; }
        done
        # the last cell is not padded; an empty one leaves the padding of
        # the cell before it (as Docker's history does with COMMENT)
        for line in "${lines[@]}"; do
            [ -z "$bad" ] || break
            [ "${line% }" = "$line" ] || [ ${#line} -eq "${starts[ncol - 1]}" ] ||
                bad="trailing blanks in line '$line'"
        done
    fi
    if [ -z "$bad" ]; then ok "$desc"; else
        not_ok "$desc"; note "$bad"; printf '%s\n' "$text" | sed 's/^/#     |/'; return 1; fi
}

# ---------------------------------------------------------------- Docker's formats
# human_duration SECONDS: Docker's units.HumanDuration
human_duration() {
    local s=$1 m h
    m=$((s / 60)); h=$((s / 3600))
    if [ "$s" -lt 1 ]; then echo "Less than a second"
    elif [ "$s" -eq 1 ]; then echo "1 second"
    elif [ "$s" -lt 60 ]; then echo "$s seconds"
    elif [ "$m" -eq 1 ]; then echo "About a minute"
    elif [ "$m" -lt 60 ]; then echo "$m minutes"
    elif [ "$h" -eq 1 ]; then echo "About an hour"
    elif [ "$h" -lt 48 ]; then echo "$h hours"
    elif [ "$h" -lt $((24 * 7 * 2)) ]; then echo "$((h / 24)) days"
    elif [ "$h" -lt $((24 * 30 * 2)) ]; then echo "$((h / 24 / 7)) weeks"
    elif [ "$h" -lt $((24 * 365 * 2)) ]; then echo "$((h / 24 / 30)) months"
    else echo "$((h / 24 / 365)) years"
    fi
}

# ago EPOCH-SECONDS -> "2 years ago"
ago() { echo "$(human_duration $(($(date +%s) - $1))) ago"; }

# a few seconds ago, as ps shows a container made during the test
RECENT_RE='(Less than a second|[0-9]+ seconds?|About a minute)'

# ellipsis STRING N: Docker's stringutils.Ellipsis for ASCII strings
ellipsis() {
    local LC_ALL=C.UTF-8
    if [ ${#1} -le "$2" ]; then printf '%s\n' "$1"; else printf '%s…\n' "${1:0:$2-1}"; fi
}

# ---------------------------------------------------------------- btrfs
# btrfs_store DIR SIZE: a btrfs file system on a loopback file in DIR,
# mounted on DIR/btrfs as BTRFS_MNT, and DRIVERS the storage drivers to test
# ("overlay btrfs copy", or without btrfs when the kernel has none).
btrfs_store() {
    BTRFS_MNT=
    DRIVERS="overlay copy"
    if grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null; then
        truncate -s "$2" "$1/btrfs.img" && mkfs.btrfs -q "$1/btrfs.img" >/dev/null 2>&1 &&
            mkdir -p "$1/btrfs" && mount -o loop "$1/btrfs.img" "$1/btrfs" && BTRFS_MNT=$1/btrfs
        [ -n "$BTRFS_MNT" ] ||
            die "cannot make a btrfs loopback store (mkfs.btrfs from btrfs-progs, loop devices)"
        DRIVERS="overlay btrfs copy"
    else
        echo "# SKIP: this kernel has no btrfs; the btrfs driver is not tested"
    fi
}

# mounts_under DIR: the mount points below DIR
mounts_under() { [ -n "$1" ] || return 1; awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo; }

# ---------------------------------------------------------------- trees
# a tree as a sorted list: name, type, mode, owner, link target; size, link
# count and sha256 of every file.  The link count is how many names inside
# the tree share the file's inode: a copy-driver layer also shares inodes
# with the layers below it, which is not the image's business.
tree_list() {
    (cd "$1" && find . -mindepth 1 -printf '%P %y %m %U:%G -> %l\n' | LC_ALL=C sort
     find . -mindepth 1 -type f -printf '%i %P size=%s\n' |
         awk '{ n[$1]++; ino[NR] = $1; sub(/^[0-9]+ /, ""); line[NR] = $0 }
              END { for (k = 1; k <= NR; k++) print line[k] " links=" n[ino[k]] }' | LC_ALL=C sort
     find . -mindepth 1 -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
umoci_tree() { # LAYOUT:TAG -> list file
    local out=$TMPD/umoci-${1//[^a-z0-9]/_}
    if [ ! -f "$out.list" ]; then
        umoci unpack --image "$1" "$out" >/dev/null 2>&1 || die "umoci unpack $1 failed"
        tree_list "$out/rootfs" > "$out.list"
    fi
    echo "$out.list"
}
# compares the image NAME's tree in the store with `umoci unpack` of REF
# (the store's driver must be copy, which keeps each layer as a full tree)
check_tree() { # DESC NAME LAYOUT:TAG
    local top want diff id
    id=$(st inspect "$2" 2>/dev/null | jq -r '.[0].Id' 2>/dev/null)
    top=$(jq -r '.layers[-1] | ltrimstr("sha256:")' "$ROOT/images/${id#sha256:}.json" 2>/dev/null)
    want=$(umoci_tree "$3")
    if [ -n "$top" ] && [ -d "$ROOT/storage/copy/layers/$top" ] &&
       diff=$(diff <(tree_list "$ROOT/storage/copy/layers/$top") "$want"); then
        ok "$1"
    else
        not_ok "$1"; note "top layer: '$top'"; printf '%s\n' "${diff:-}" | head -20 | sed 's/^/#     /'
    fi
}

