#!/bin/bash
# filter.sh - --filter on ps and images: every key Docker has for them, the
# same key given twice is OR, different keys AND (labels AND, as Docker),
# combined with -q and --format, and the error cases (exit 125).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store

IMG=localhost/busybox:1
NT=localhost/busybox:notrailer
sx pull "oci:$FIXTURES/busybox:1"
check_rc "pull busybox:1" 0 || { show_last; finish; }
sx pull "oci:$FIXTURES/busybox:notrailer"
check_rc "pull busybox:notrailer" 0 || { show_last; finish; }
check_ok "tag a second name" tag "$IMG" other:2
ID1=$(fx_config "$FIXTURES/busybox" 1); ID1=${ID1#sha256:}
IDNT=$(fx_config "$FIXTURES/busybox" notrailer); IDNT=${IDNT#sha256:}

# oldest first: c0 (exited 0), c3 (exited 3, through the second name),
# cr (created), nt (exited 3, other image), up (running)
st run --name c0 "$IMG" sh -c 'exit 0' >/dev/null 2>&1
st run --name c3 other:2 sh -c 'exit 3' >/dev/null 2>&1
st create --name cr "$IMG" >/dev/null 2>&1
st run --name nt "$NT" sh -c 'exit 3' >/dev/null 2>&1
st run --name up "$IMG" sleep 30 >/dev/null 2>&1 & bg=$!
rpid=$(container_pid "$bg" sleep)
[ -n "$rpid" ] || die "the running container did not start"
C3=$(st inspect -f '{{.Id}}' c3)

# names DESC ARGS... : `ps --format {{.Names}}` with ARGS, sorted, one line
names() { local d=$1; shift; sx ps "$@" --format '{{.Names}}'
          check_eq "$d" "$WANT" "$(printf '%s\n' "$OUT" | grep . | sort | paste -sd' ')"; }

WANT="c0 c3 cr nt up";  names "ps -a without a filter lists all" -a
WANT="up";             names "ps without -a: running only" 
WANT="c0 c3 nt";       names "status=exited" -a --filter status=exited
WANT="c0 c3 nt";       names "status implies -a" --filter status=exited
WANT="cr";             names "status=created" -a -f status=created
WANT="up";             names "status=running" -a -f status=running
WANT="c0";             names "exited holds only for exited containers" -a -f status=created -f status=exited -f exited=0
WANT="c0 c3 cr nt";    names "status OR status" -a -f status=created -f status=exited
WANT="c3 nt";          names "exited=3" -a -f exited=3
WANT="c0 c3 nt";       names "exited=0 OR exited=3" -a -f exited=0 -f exited=3
WANT="";               names "exited=3 AND status=created: nothing" -a -f exited=3 -f status=created
WANT="c3";             names "name=c3" -a -f name=c3
WANT="c0 c3";          names "name is a regexp" -a -f 'name=^c[0-9]$'
WANT="c0 nt";          names "name OR name" -a -f name=c0 -f name=nt
WANT="c3";             names "id=prefix" -a -f "id=${C3:0:6}"
WANT="c3";             names "id=full ID" -a -f "id=$C3"
WANT="c0 c3 cr up";     names "ancestor=name, also through another name of the image" -a -f "ancestor=$IMG"
WANT="c0 c3 cr up";     names "ancestor=image ID" -a -f "ancestor=${ID1:0:12}"
WANT="nt";             names "ancestor=the other image" -a -f "ancestor=$NT"
WANT="c0 c3 cr nt up";  names "ancestor OR ancestor" -a -f "ancestor=$NT" -f "ancestor=$IMG"
WANT="";               names "ancestor=missing image matches nothing" -a -f ancestor=nope:1
WANT="c3";             names "ancestor AND exited AND name" -a -f "ancestor=$IMG" -f exited=3 -f name=c
WANT="c0 c3 cr nt up";  names "label=key" -a -f label=org.example.fixture
WANT="nt";             names "label=key=value" -a -f label=org.example.fixture=busybox-notrailer
WANT="";               names "label values AND (Docker's MatchKVList)" -a -f label=org.example.fixture=busybox -f label=org.example.fixture=busybox-notrailer
WANT="";               names "label=missing key" -a -f label=nope
WANT="c0 c3";          names "before=cr" -a -f before=cr
WANT="c0 c3";          names "before implies -a" -f before=cr
WANT="nt up";           names "since=cr" -f since=cr
WANT="c3";             names "since AND before" -f since=c0 -f before=cr
WANT="c0";             names "before OR before: the earliest holds" -f before=c3 -f before=nt

sx ps -a --filter status=exited --filter exited=3 -q
check_eq "ps -q with --filter: short IDs" "$(st inspect -f '{{.Id}}' nt | cut -c1-12) ${C3:0:12}" "$(printf '%s\n' "$OUT" | paste -sd' ')"
sx container ls -a --filter status=exited --format '{{.Names}}'
check_eq "container ls -a --filter status=exited --format" "nt c3 c0" "$(printf '%s\n' "$OUT" | paste -sd' ')"
sx ps -a -f name=c0
check_match "ps --filter keeps the default table" "$OUT" '^CONTAINER ID +IMAGE '
check_eq "ps --filter table: one row" 1 "$(table_rows "$OUT")"

check_fail "ps: invalid status value" 125 "invalid filter 'status=foo'" -- ps -a -f status=foo
check_fail "ps: unknown key" 125 "invalid filter 'foo'" -- ps -a --filter foo=bar
check_fail "ps: no '='" 125 "bad format of filter" -- ps -a --filter status
check_fail "ps: exited needs a number" 125 "invalid filter 'exited=x'" -- ps -a -f exited=x
check_fail "ps: before a missing container" 1 "No such container: nope" -- ps -a -f before=nope
sx ps --help
check_contains "ps --help lists --filter" "$OUT" "--filter"

# SIGKILL: sleep is PID 1 of its namespace and ignores a plain TERM
kill -KILL "$rpid" 2>/dev/null; wait "$bg" 2>/dev/null

# ---------------------------------------------------------------- images
# repos DESC ARGS... : `images --format {{.Repository}}:{{.Tag}}`, sorted
repos() { local d=$1; shift; sx images "$@" --format '{{.Repository}}:{{.Tag}}'
          check_eq "$d" "$WANT" "$(printf '%s\n' "$OUT" | grep . | sort | paste -sd' ')"; }

# a newer image (created 2025) takes the notrailer name: the old one is dangling
mkdir -p "$TMPD/lay" && cp -r "$FIXTURES/busybox" "$TMPD/lay/" &&
    umoci config --image "$TMPD/lay/busybox:notrailer" --created 2025-01-01T00:00:00Z \
        --config.label org.example.new=yes >/dev/null 2>&1 || die "umoci config failed"
sx pull "oci:$TMPD/lay/busybox:notrailer"
check_rc "pull a newer image under the notrailer name" 0
NEW=$(st inspect -f '{{.Id}}' "$NT"); NEW=${NEW#sha256:}

WANT="<none>:<none> localhost/busybox:1 localhost/busybox:notrailer other:2"
repos "images without a filter"
WANT="<none>:<none>";  repos "dangling=true" -f dangling=true
WANT="localhost/busybox:1 localhost/busybox:notrailer other:2"
repos "dangling=false" -f dangling=false
sx images -f dangling=true -q
check_eq "dangling=true -q: the old image's ID" "${IDNT:0:12}" "$OUT"
WANT="localhost/busybox:1 localhost/busybox:notrailer"
repos "reference=repo glob" -f 'reference=localhost/busy*'
WANT="localhost/busybox:1"; repos "reference=repo:tag" -f reference=localhost/busybox:1
WANT="localhost/busybox:1 other:2"
repos "reference OR reference; a bare repo matches its tags" -f reference=localhost/busybox:1 -f reference=other
WANT="other:2";        repos "reference: * stops at / (familiar names)" -f 'reference=*'
WANT="localhost/busybox:notrailer"; repos "label=key=value" -f label=org.example.new=yes
WANT="<none>:<none> localhost/busybox:notrailer"
repos "label=key=value, also on a dangling image" -f label=org.example.fixture=busybox-notrailer
WANT="localhost/busybox:1"
repos "label AND reference" -f label=org.example.fixture -f 'reference=localhost/*:[0-9]'
WANT="";               repos "label values AND" -f label=org.example.new -f label=nope
WANT="<none>:<none> localhost/busybox:1 other:2"
repos "before=the newer image" -f "before=$NT"
WANT="localhost/busybox:notrailer"; repos "since=an old image by ID" -f "since=${ID1:0:12}"
WANT="localhost/busybox:1 other:2"
repos "before AND dangling=false" -f "before=$NT" -f dangling=false
sx images -q -f "since=$IMG"
check_eq "images -q --filter since" "${NEW:0:12}" "$OUT"

check_fail "images: dangling=maybe" 125 "invalid filter 'dangling=maybe'" -- images -f dangling=maybe
check_fail "images: unknown key" 125 "invalid filter 'status'" -- images -f status=exited
check_fail "images: since a missing image" 1 "No such image: nope:1" -- images -f since=nope:1
sx images --help
check_contains "images --help lists --filter" "$OUT" "--filter"
finish
