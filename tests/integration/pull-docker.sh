#!/bin/bash
# pull-docker.sh - `strata pull` from a real registry (Debian's
# docker-registry) on 127.0.0.1: plain HTTP (insecure-registries), TLS with a
# private CA in certs.d, htpasswd basic auth, the bearer-token flow with a
# token server of our own, docker.io through a registry mirror; images pushed
# by skopeo (Docker schema2, OCI, trailer-less layers, manifest list, OCI
# index), each extracted tree compared with what `umoci unpack` makes of the
# same image; and the faults: a blob corrupted on the registry's disk, a 500
# storm, a flaky 500, a connection dropped mid-blob, a redirect to another
# host (credentials must not follow), a 401 loop, a token with CR/LF, missing
# tags and repositories.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
for t in docker-registry skopeo umoci openssl htpasswd python3 curl; do
    command -v "$t" >/dev/null || die "$t is needed (bash tests/install-deps.sh)"
done
need_fixtures
setup_store

BB=$FIXTURES/busybox
FX=$srcdir/tests/fixtures
RD=$TMPD/registries
CONFIG=$(fx_config "$BB" 1)
[ -n "$CONFIG" ] || die "cannot read $BB (fixtures broken?)"
# the copy driver keeps each layer as a full tree: the one to compare
export STRATA_STORAGE_DRIVER=copy

stop_all() {
    local d
    for d in plain tls htpasswd token; do bash "$FX/registry.sh" stop "$RD/$d" >/dev/null 2>&1; done
    [ -f "$RD/proxy.pid" ] && kill "$(cat "$RD/proxy.pid")" 2>/dev/null
    return 0
}
trap 'rc=$?; stop_all; (exit $rc); cleanup' EXIT

# ---------------------------------------------------------------- registries
# started side by side: each takes a second or two to come up
mkdir -p "$RD"
start() { bash "$FX/registry.sh" start "$RD/$1" "${@:2}" --data "$RD/data" > "$RD/$1.started" 2>&1; }
start plain http & start tls tls & start htpasswd htpasswd alice:pw-alice & start token token bob:pw-bob &
wait
for d in plain tls htpasswd token; do
    [ -s "$RD/$d/port" ] || { cat "$RD/$d.started" "$RD/$d/log" 2>/dev/null | tail -5; die "cannot start the $d registry"; }
done
P=$(cat "$RD/plain/port") T=$(cat "$RD/tls/port") H=$(cat "$RD/htpasswd/port") K=$(cat "$RD/token/port")
X=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid python3 "$FX/fault-proxy.py" --port "$X" --upstream "127.0.0.1:$P" --log "$RD/proxy.log" \
    >"$RD/proxy.out" 2>&1 </dev/null &
echo $! > "$RD/proxy.pid"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$X/v2/" && break; sleep 0.05; done
echo "# registries: http $P, tls $T, htpasswd $H, token $K (token server $(cat "$RD/token/token.port")), fault proxy $X"

push() { skopeo copy -q --dest-tls-verify=false "$@" >"$RD/push.log" 2>&1 || { cat "$RD/push.log"; die "skopeo copy $* failed"; }; }
R=127.0.0.1:$P
push --format v2s2 "oci:$BB:1" "docker://$R/busybox:1"
push --format oci "oci:$BB:1" "docker://$R/busybox:1-oci"
push "oci:$BB:notrailer" "docker://$R/busybox:notrailer"
push --all --format oci "oci:$FIXTURES/multi:1" "docker://$R/multi:1-oci"
push --all --format v2s2 "oci:$FIXTURES/multi:1" "docker://$R/multi:1"
for repo in library/busybox private/busybox crlf/busybox; do
    push --format v2s2 "oci:$BB:1" "docker://$R/$repo:1"
done

ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json'
head_of() { curl -sI -H "Accept: $ACCEPT" "http://$R/v2/$1/manifests/$2" | tr -d '\r'; }
mtype() { head_of "$1" "$2" | sed -n 's/^[Cc]ontent-[Tt]ype: //p'; }
mdigest() { head_of "$1" "$2" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'; }
check_eq "registry: busybox:1 is a Docker schema2 manifest" application/vnd.docker.distribution.manifest.v2+json "$(mtype busybox 1)"
check_eq "registry: busybox:1-oci is an OCI manifest" application/vnd.oci.image.manifest.v1+json "$(mtype busybox 1-oci)"
check_eq "registry: multi:1 is a Docker manifest list" application/vnd.docker.distribution.manifest.list.v2+json "$(mtype multi 1)"
check_eq "registry: multi:1-oci is an OCI index" application/vnd.oci.image.index.v1+json "$(mtype multi 1-oci)"

# ---------------------------------------------------------------- client set-up
export HOME=$TMPD/home XDG_RUNTIME_DIR=$TMPD/xdg STRATA_CERTS_D=$TMPD/certs.d
unset REGISTRY_AUTH_FILE DOCKER_CONFIG
mkdir -p "$HOME/.docker" "$XDG_RUNTIME_DIR" "$STRATA_CERTS_D/127.0.0.1:$T"
cp "$RD/tls/ca.crt" "$STRATA_CERTS_D/127.0.0.1:$T/ca.crt"
b64() { printf %s "$1" | base64 -w0; }
cat > "$HOME/.docker/config.json" <<EOF
{"auths": {
  "127.0.0.1:$H": {"auth": "$(b64 alice:pw-alice)"},
  "https://127.0.0.1:$K/v1/": {"auth": "$(b64 bob:pw-bob)"},
  "localhost:$K": {"auth": "$(b64 bob:pw-bob)"},
  "127.0.0.1:$X": {"auth": "$(b64 carol:pw-carol)"}
}}
EOF
export STRATA_CONFIG=$TMPD/config.json
cat > "$STRATA_CONFIG" <<EOF
{"insecure-registries": ["127.0.0.1:$P", "127.0.0.1:$H", "127.0.0.1:$K", "localhost:$K", "127.0.0.1:$X"]}
EOF

pulled() { # DESC NAME : the last sx was a successful pull of NAME
    check_rc "$1" 0 &&
    check_match "$1: Status line" "$OUT" "^Status: Downloaded newer image for $2$"
}

# ---------------------------------------------------------------- plain HTTP
sx pull "$R/busybox:1"
pulled "pull $R/busybox:1 (Docker schema2, insecure-registries)" "$R/busybox:1"
check_match "pull busybox:1: '1: Pulling from busybox'" "$OUT" "^1: Pulling from busybox$"
check_eq "pull busybox:1: 4 layers pulled" 4 "$(printf '%s\n' "$OUT" | grep -cE '^[0-9a-f]{12}: Pull complete$')"
check_match "pull busybox:1: Digest is the registry's" "$OUT" "^Digest: $(mdigest busybox 1)$"
check_eq "pull busybox:1: last line is the name" "$R/busybox:1" "$(printf '%s\n' "$OUT" | tail -1)"
sx inspect "$R/busybox:1"
check_eq "busybox:1: image ID is the fixture's config digest" "$CONFIG" "$(printf '%s' "$OUT" | jq -r '.[0].Id')"
check_tree "busybox:1: extracted tree matches umoci unpack" "$R/busybox:1" "$BB:1"
sx run --rm "$R/busybox:1"
check_eq "busybox:1 runs its CMD" "hello from layer 2" "$OUT"
store_has_no_temp "pull over HTTP"
sx pull "$R/busybox:1"
check_match "pull again: Image is up to date" "$OUT" "^Status: Image is up to date for $R/busybox:1$"
check_eq "pull again: 4 layers already exist" 4 "$(printf '%s\n' "$OUT" | grep -cE '^[0-9a-f]{12}: Already exists$')"

setup_store
sx pull "docker://$R/busybox:1-oci"
pulled "pull docker://$R/busybox:1-oci (OCI manifest)" "$R/busybox:1-oci"
check_match "pull busybox:1-oci: Digest is the registry's" "$OUT" "^Digest: $(mdigest busybox 1-oci)$"
check_tree "busybox:1-oci: extracted tree matches umoci unpack" "$R/busybox:1-oci" "$BB:1"

setup_store
sx pull "$R/busybox:notrailer"
pulled "pull $R/busybox:notrailer (layers without tar trailer)" "$R/busybox:notrailer"
check_tree "busybox:notrailer: extracted tree matches umoci unpack" "$R/busybox:notrailer" "$BB:notrailer"

for tag in 1 1-oci; do
    setup_store
    sx pull "$R/multi:$tag"
    pulled "pull $R/multi:$tag ($(mtype multi "$tag" | sed 's/.*vnd\.//'))" "$R/multi:$tag"
    sx run --rm "$R/multi:$tag" cat /etc/arch
    check_eq "multi:$tag: the amd64 image was picked" amd64 "$OUT"
    check_tree "multi:$tag: extracted tree matches umoci unpack of the amd64 image" "$R/multi:$tag" "$BB:1"
done

# by digest: the manifest bytes are checked against the digest asked for
setup_store
D=$(mdigest busybox 1)
sx pull "$R/busybox@$D"
check_rc "pull $R/busybox@$D (by digest)" 0
check_match "pull by digest: Digest line" "$OUT" "^Digest: $D$"
sx run --rm "$R/busybox@$D"
check_eq "pull by digest: the image runs" "hello from layer 2" "$OUT"
check_fail "pull by an unknown digest: manifest unknown" 125 "manifest unknown" -- \
    pull "$R/busybox@sha256:$(printf x | sha256sum | cut -c1-64)"

# run pulls a missing image first
setup_store
sx run --rm "$R/busybox:1"
check_rc "run of a missing registry image" 0
check_eq "run: the container ran after the pull" "hello from layer 2" "$OUT"
check_contains "run: 'Unable to find image' first" "$ERR" "Unable to find image '$R/busybox:1' locally"
check_contains "run: then the pull transcript on stderr" "$ERR" "Status: Downloaded newer image for $R/busybox:1"

setup_store
check_fail "missing tag: manifest unknown" 125 "manifest for $R/busybox:nope not found" "manifest unknown" -- pull "$R/busybox:nope"
check_fail "missing repository: not found" 125 "not found" -- pull "$R/nosuch/image:1"
STRATA_CONFIG=/dev/null check_fail "plain HTTP registry not in insecure-registries: refused" 125 \
    "https://$R" "insecure-registries" -- pull "$R/busybox:1"
STRATA_CONFIG=/dev/null sx pull --tls-verify=false "$R/busybox:1"
pulled "plain HTTP with --tls-verify=false" "$R/busybox:1"
store_has_no_temp "HTTP pulls"

# ---------------------------------------------------------------- docker.io through a mirror
setup_store
printf '{"registry-mirrors": ["http://127.0.0.1:%s"]}\n' "$P" > "$TMPD/mirror.json"
STRATA_CONFIG=$TMPD/mirror.json sx pull busybox:1
pulled "pull busybox:1 (docker.io/library/busybox) through registry-mirrors" busybox:1
check_match "mirror: 'Pulling from library/busybox'" "$OUT" "^1: Pulling from library/busybox$"
sx inspect busybox:1
check_eq "mirror: docker.io/library/busybox:1 is the fixture image" "$CONFIG" "$(printf '%s' "$OUT" | jq -r '.[0].Id')"

# ---------------------------------------------------------------- TLS
setup_store
sx pull "127.0.0.1:$T/busybox:1"
pulled "TLS with the private CA in certs.d/127.0.0.1:$T/ca.crt" "127.0.0.1:$T/busybox:1"
check_tree "TLS: extracted tree matches umoci unpack" "127.0.0.1:$T/busybox:1" "$BB:1"
setup_store
STRATA_CERTS_D=$TMPD/no-certs check_fail "TLS without the CA: certificate refused" 125 "certificate" -- pull "127.0.0.1:$T/busybox:1"
store_has_no_layers "TLS refused"
STRATA_CERTS_D=$TMPD/no-certs sx pull --tls-verify=false "127.0.0.1:$T/busybox:1"
pulled "TLS without the CA but --tls-verify=false" "127.0.0.1:$T/busybox:1"

# ---------------------------------------------------------------- basic auth
setup_store
sx pull "127.0.0.1:$H/busybox:1"
pulled "htpasswd registry with credentials from ~/.docker/config.json" "127.0.0.1:$H/busybox:1"
mkdir -p "$TMPD/home2/.docker" "$TMPD/xdg2/containers"
echo '{"auths": {}}' > "$TMPD/home2/.docker/config.json"
HOME=$TMPD/home2 check_fail "htpasswd registry without credentials: unauthorized" 125 "unauthorized" "needs credentials" -- \
    pull "127.0.0.1:$H/busybox:1"
printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$H" "$(b64 alice:wrong)" > "$TMPD/xdg2/containers/auth.json"
HOME=$TMPD/home2 XDG_RUNTIME_DIR=$TMPD/xdg2 check_fail "htpasswd registry with wrong credentials (auth.json): refused" 125 "unauthorized" -- \
    pull "127.0.0.1:$H/busybox:1"
printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$H" "$(b64 alice:pw-alice)" > "$TMPD/xdg2/containers/auth.json"
setup_store
HOME=$TMPD/home2 XDG_RUNTIME_DIR=$TMPD/xdg2 sx pull "127.0.0.1:$H/busybox:1"
pulled "htpasswd registry with credentials from \$XDG_RUNTIME_DIR/containers/auth.json" "127.0.0.1:$H/busybox:1"
store_has_no_temp "basic auth"

# ---------------------------------------------------------------- login / logout
# against the htpasswd registry (Basic) and the token registry (Bearer with
# account=USER), into a config.json that has other keys to keep
LH=$TMPD/home-login
mkdir -p "$LH/.docker"
printf '{"auths": {"other.example:5000": {"auth": "%s"}}, "psFormat": "table {{.ID}}"}\n' "$(b64 x:y)" > "$LH/.docker/config.json"
login_stdin() { # PASSWORD ARGS... : strata login with the password on stdin
    local pw=$1
    shift
    LAST_CMD="$* (password on stdin)"
    printf '%s\n' "$pw" | HOME=$LH timeout -k 5 "$STRATA_TEST_TIMEOUT" "$STRATA" --root "$ROOT" "$@" >"$TMPD/out" 2>"$TMPD/err"
    RC=$? OUT=$(cat "$TMPD/out") ERR=$(cat "$TMPD/err")
}
auth_of() { jq -r --arg k "$1" '.auths[$k].auth // "none"' "$LH/.docker/config.json"; }
login_stdin wrong login -u alice --password-stdin "127.0.0.1:$H"
check_error "login with a wrong password: refused" 1 "incorrect username or password"
check_eq "login refused: nothing stored" none "$(auth_of "127.0.0.1:$H")"
login_stdin pw-alice login -u alice --password-stdin "127.0.0.1:$H"
check_rc "login -u alice --password-stdin 127.0.0.1:$H" 0
check_eq "login: Login Succeeded" "Login Succeeded" "$OUT"
check_eq "login: base64 user:pass under the registry's key" "$(b64 alice:pw-alice)" "$(auth_of "127.0.0.1:$H")"
check_eq "login: other entries and keys kept" "$(b64 x:y) table {{.ID}}" \
    "$(jq -r '"\(.auths["other.example:5000"].auth) \(.psFormat)"' "$LH/.docker/config.json")"
check_eq "login: the file is mode 0600" 600 "$(stat -c %a "$LH/.docker/config.json")"
check_eq "login: no temporary file left beside it" "config.json" "$(ls -A "$LH/.docker")"
setup_store
HOME=$LH sx pull "127.0.0.1:$H/busybox:1"
pulled "htpasswd registry with the credentials login stored" "127.0.0.1:$H/busybox:1"
HOME=$LH sx logout "127.0.0.1:$H"
check_eq "logout: Removing login credentials" "Removing login credentials for 127.0.0.1:$H" "$OUT"
check_eq "logout: the entry is gone, the others stay" "none $(b64 x:y)" \
    "$(auth_of "127.0.0.1:$H") $(auth_of other.example:5000)"
setup_store
HOME=$LH check_fail "after logout: the htpasswd registry refuses the pull" 125 "needs credentials" -- pull "127.0.0.1:$H/busybox:1"
HOME=$LH sx logout "127.0.0.1:$H"
check_eq "logout again: Not logged in" "Not logged in to 127.0.0.1:$H" "$OUT"
HOME=$LH sx login -u alice -p pw-alice "127.0.0.1:$H"
check_eq "login -p: Login Succeeded" "Login Succeeded" "$OUT"
check_contains "login -p: Docker's warning about --password" "$ERR" "Using --password via the CLI is insecure"
HOME=$LH check_fail "login without a password, not on a terminal: refused" 1 "non TTY" -- login -u alice "127.0.0.1:$H"
: > "$RD/token/token.log"
login_stdin wrong-bob login -u bob --password-stdin "127.0.0.1:$K"
check_error "token registry: login with a wrong password refused by the token server" 1 "unauthorized"
login_stdin pw-bob login -u bob --password-stdin "127.0.0.1:$K"
check_eq "token registry: Login Succeeded" "Login Succeeded" "$OUT"
check_match "token registry: login asked the token server with account=bob and the credentials" \
    "$(cat "$RD/token/token.log")" "account=bob.*auth=yes"
printf '{"auths": {"https://index.docker.io/v1/": {"auth": "%s"}}}\n' "$(b64 u:p)" > "$LH/.docker/config.json"
HOME=$LH sx logout
check_eq "logout without a server: Docker Hub's key" "Removing login credentials for https://index.docker.io/v1/" "$OUT"
check_eq "logout: Docker Hub's entry gone" "{}" "$(jq -c .auths "$LH/.docker/config.json")"

# ---------------------------------------------------------------- bearer tokens
TL=$RD/token/token.log
setup_store
: > "$TL"
sx pull "127.0.0.1:$K/busybox:1"
pulled "token registry: anonymous bearer token" "127.0.0.1:$K/busybox:1"
check_match "token server: asked for repository:busybox:pull" "$(cat "$TL")" "scope=repository%3Abusybox%3Apull.*auth=yes"
check_tree "token registry: extracted tree matches umoci unpack" "127.0.0.1:$K/busybox:1" "$BB:1"
: > "$TL"
sx pull "127.0.0.1:$K/private/busybox:1"
pulled "token registry: private repository with credentials (token with basic auth)" "127.0.0.1:$K/private/busybox:1"
check_match "token server got the credentials" "$(cat "$TL")" "repository%3Aprivate%2Fbusybox%3Apull.*auth=yes"
setup_store
HOME=$TMPD/home2 check_fail "token registry: private repository without credentials: 401 loop ends" 125 \
    "unauthorized" "still refused after authenticating" -- pull "127.0.0.1:$K/private/busybox:1"
: > "$TL"
# localhost:$K is the same registry, but its token realm says 127.0.0.1: another host
check_fail "token realm on another host: no credentials sent, refused" 125 "unauthorized" "not sent to the token server" -- \
    pull "localhost:$K/private/busybox:1"
check_eq "token server on another host never saw the credentials" "" "$(grep 'auth=yes' "$TL")"
check_fail "token with CR/LF: refused" 125 "invalid token" -- pull "127.0.0.1:$K/crlf/busybox:1"
store_has_no_layers "refused token pulls"
store_has_no_temp "bearer tokens"

# ---------------------------------------------------------------- faults (through the proxy)
PX=127.0.0.1:$X
setup_store
: > "$RD/proxy.log"
check_fail "HTTP 500 on every request: gives up after retries" 125 "HTTP 500" "gave up after 3 retries" -- pull "$PX/fail500/busybox:1"
check_eq "HTTP 500: 4 attempts (3 retries)" 4 "$(grep -c 'fail500/busybox/manifests/1 ' "$RD/proxy.log")"
store_has_no_layers "HTTP 500"
store_has_no_temp "HTTP 500"
sx pull "$PX/flaky/busybox:1"
pulled "a 500 once per request: retried, pull succeeds" "$PX/flaky/busybox:1"
setup_store
: > "$RD/proxy.log"
sx pull "$PX/drop/busybox:1"
pulled "connection dropped mid-blob: resumed with a Range request" "$PX/drop/busybox:1"
check_match "drop: a Range request followed the cut" "$(cat "$RD/proxy.log")" "/v2/drop/busybox/blobs/sha256:[0-9a-f]+ auth=no range=bytes=[1-9][0-9]*-$"
check_tree "drop: extracted tree matches umoci unpack" "$PX/drop/busybox:1" "$BB:1"
setup_store
: > "$RD/proxy.log"
STRATA_LOW_SPEED_TIME=2 sx pull "$PX/stall/busybox:1"
pulled "stalled connection: dropped after the low-speed time, resumed" "$PX/stall/busybox:1"
check_match "stall: a Range request followed" "$(cat "$RD/proxy.log")" "/v2/stall/busybox/blobs/sha256:[0-9a-f]+ auth=no range=bytes=[1-9][0-9]*-$"
# a pull killed with SIGKILL mid-blob: the next pull asks only for the rest
# (notrailer: its big layer has not been through the stalling proxy yet)
setup_store
: > "$RD/proxy.log"
( exec "$STRATA" --root "$ROOT" pull "$PX/stall/busybox:notrailer" >/dev/null 2>&1 </dev/null ) &
killed=$!
partial=
# (layers download in parallel: the small ones are complete by then, the
# big one has half its bytes and stalls)
for _ in $(seq 100); do
    partial=$(find "$ROOT/downloads" -name '*.partial' -size +100k 2>/dev/null | head -1)
    [ -n "$partial" ] && grep -q 'stall/busybox/blobs/' "$RD/proxy.log" && break
    sleep 0.1
done
sleep 0.3
kill -9 "$killed" 2>/dev/null; wait "$killed" 2>/dev/null
have=$(stat -c %s "$partial" 2>/dev/null || echo 0)
if [ -n "$partial" ] && [ "$have" -gt 0 ]; then ok "SIGKILL mid-blob leaves the partial download ($have bytes)"
else not_ok "SIGKILL mid-blob leaves the partial download"; fi
blob=$(basename "${partial:-none}" .partial)
sx pull "$PX/stall/busybox:notrailer"
pulled "pull after a SIGKILLed pull" "$PX/stall/busybox:notrailer"
check_match "after SIGKILL: the blob was resumed from byte $have, not fetched again" "$(cat "$RD/proxy.log")" \
    "/v2/stall/busybox/blobs/sha256:$blob auth=no range=bytes=$have-$"
check_eq "after SIGKILL: the whole blob was asked for once only" 1 \
    "$(grep -c "/v2/stall/busybox/blobs/sha256:$blob auth=no range=-$" "$RD/proxy.log")"
check_eq "after SIGKILL: no partial download left" "" "$(find "$ROOT/downloads" -type f 2>/dev/null)"
check_tree "after SIGKILL: extracted tree matches umoci unpack" "$PX/stall/busybox:notrailer" "$BB:notrailer"
store_has_no_temp "after SIGKILL and a new pull"
setup_store
: > "$RD/proxy.log"
sx pull "$PX/redir/busybox:1"
pulled "blobs redirected to another host" "$PX/redir/busybox:1"
check_match "redirect: the registry got the credentials" "$(cat "$RD/proxy.log")" "GET /v2/redir/busybox/manifests/1 auth=yes"
check_eq "redirect: blobs were fetched from the other host" 5 "$(grep -c '^GET /direct/' "$RD/proxy.log")"
check_eq "redirect: no credentials followed the redirect" "" "$(grep '^GET /direct/.*auth=yes' "$RD/proxy.log")"

setup_store
check_fail "a 5 MiB manifest: refused" 125 "more than 4194304 bytes" -- pull "$PX/huge/busybox:1"
D=$(mdigest busybox 1)
check_fail "a manifest that does not match the digest asked for: refused" 125 "digest mismatch" "$D" -- \
    pull "$PX/lie/busybox@$D"
check_fail "an invalid reference: refused before any request" 125 "invalid reference format" -- pull "$R/Busy Box:1"
store_has_no_layers "refused manifests"

# ---------------------------------------------------------------- a blob corrupted on the registry's disk
setup_store
BIG=$(jq -r '.layers | max_by(.size) | .digest' "$(fx_blob "$BB" "$(fx_manifest "$BB" 1)")")
F=$RD/data/docker/registry/v2/blobs/sha256/${BIG:7:2}/${BIG#sha256:}/data
flip() { # the gzip header's MTIME byte: still inflates, only the digest tells
    local old
    old=$(od -An -tu1 -j4 -N1 "$F" | tr -d ' ')
    printf "$(printf '\\%03o' $((old ^ 0xff)))" | dd of="$F" bs=1 seek=4 count=1 conv=notrunc status=none
}
[ -f "$F" ] || die "no blob file $F"
flip
sx pull "$R/busybox:1"
check_error "corrupt blob on the registry: exit 125, one error line naming the digest" 125 "${BIG#sha256:}" "digest mismatch"
store_has_no_layers "corrupt blob"
store_has_no_temp "corrupt blob"
sx images -q
check_eq "corrupt blob: no image" "" "$OUT"
flip
sx pull "$R/busybox:1"
pulled "the same pull once the blob is repaired" "$R/busybox:1"

finish
