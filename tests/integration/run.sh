#!/bin/bash
# run.sh - run/create/start, exit codes, the image's file system (whiteouts,
# opaque dirs, owners, hardlinks), ps, rm, rmi, tag and inspect.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store

BB=$FIXTURES/busybox
IMG=localhost/busybox:1
CONFIG=$(fx_config "$BB" 1)
ID=${CONFIG#sha256:}; ID=${ID:0:12}
[ -n "$CONFIG" ] || die "cannot read $BB (fixtures broken?)"

sx pull "oci:$BB:1"
check_rc "pull oci:busybox:1" 0 || { show_last; finish; }

nctr() { sx ps -a -q; printf '%s\n' "$OUT" | grep -c .; }   # number of containers

# ---------------------------------------------------------------- run
sx run --rm "$IMG" cat /hello.txt
check_rc "run --rm cat /hello.txt" 0
check_eq "run --rm cat /hello.txt prints the layer-2 file" "hello from layer 2" "$OUT"
check_eq "run --rm leaves no container" 0 "$(nctr)"
sx run --rm "$IMG"
check_eq "run with no command runs the image's Cmd" "hello from layer 2" "$OUT"
sx run --rm "$ID" cat /hello.txt
check_eq "run by image ID" "hello from layer 2" "$OUT"
sx run --rm "$IMG" sh -c 'exit 3'
check_rc "run: the command's exit code (3)" 3
# (under the namespaces backend the command is PID 1 of its PID namespace,
# which ignores its own SIGTERM as under Docker: chroot shows the 128+N rule)
sx --isolation chroot run --rm "$IMG" sh -c 'kill -TERM $$'
check_rc "run (chroot): killed by SIGTERM exits 128+15" 143
# the container's process killed from the host, whatever the backend
st run --rm "$IMG" sleep 30 >/dev/null 2>&1 & bg=$!
cpid=$(container_pid "$bg" sleep)
[ -n "$cpid" ] && kill -KILL "$cpid"
wait "$bg"
check_eq "run: the container's process killed by SIGKILL exits 128+9" 137 $?
sx run --rm "$IMG" /nonexistent
check_error "run: a missing command exits 127" 127
sx run --rm "$IMG" /etc/passwd
check_error "run: a file that cannot be executed exits 126" 126
sx run --rm localhost/no-such-image:1 true
# like docker, run may say "Unable to find image '...' locally" and try to pull
ERR=$(printf '%s\n' "$ERR" | grep -v "^Unable to find image 'localhost/no-such-image:1' locally$")
check_error "run: a missing image exits 125" 125

# two containers at once
st run --rm "$IMG" sh -c 'sleep 0.3; cat /hello.txt' >"$TMPD/c1" 2>&1 & p1=$!
st run --rm "$IMG" sh -c 'sleep 0.3; cat /etc/arch' >"$TMPD/c2" 2>&1 & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check_eq "two concurrent runs both succeed" "0 0" "$r1 $r2"
check_eq "two concurrent runs: their output" "hello from layer 2|amd64" "$(cat "$TMPD/c1")|$(cat "$TMPD/c2")"
check_eq "two concurrent runs --rm leave no container" 0 "$(nctr)"

# ---------------------------------------------------------------- the image's file system
sx run --rm "$IMG" cat /etc/to-delete.txt
check_rc "whiteout: /etc/to-delete.txt is gone (cat fails)" 1
sx run --rm "$IMG" ls /data
check_eq "opaque directory: /data holds only new.txt" new.txt "$OUT"
sx run --rm "$IMG" cat /data/new.txt
check_eq "opaque directory: /data/new.txt" new "$OUT"
sx run --rm "$IMG" cat /etc/arch
check_eq "/etc/arch" amd64 "$OUT"
sx run --rm "$IMG" stat -c '%u:%g %a' /home/user/file
check_eq "/home/user/file is 1000:1000 mode 640" "1000:1000 640" "$OUT"
sx run --rm "$IMG" ls -ln /home/user/file
check_eq "ls -ln /home/user/file: mode and owners" "-rw-r----- 1000 1000" "$(printf '%s\n' "$OUT" | awk '{ print $1, $3, $4 }')"
sx run --rm "$IMG" stat -c '%u:%g %a' /home/user
check_eq "/home/user is 1000:1000" "1000:1000 755" "$OUT"
sx run --rm "$IMG" stat -c '%a' /tmp
check_eq "/tmp is mode 1777" 1777 "$OUT"
sx run --rm "$IMG" ls -i /bin/busybox /bin/env
check_eq "/bin/env is a hardlink of /bin/busybox (same inode)" 1 \
    "$(printf '%s\n' "$OUT" | awk '{ print $1 }' | sort -u | grep -c .)"
sx run --rm "$IMG" stat -c '%h' /bin/busybox
check_eq "/bin/busybox has 2 links" 2 "$OUT"
sx run --rm "$IMG" readlink /bin/sh
check_eq "/bin/sh is a symlink to busybox" busybox "$OUT"
sx run --rm "$IMG" env
check_contains "run: the image's Env" "$OUT" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
sx run --rm "$IMG" sh -c 'pwd; id -u; id -g'
check_eq "run: WorkingDir / as root" "$(printf '%s\n' / 0 0)" "$OUT"
sx run --rm "$IMG" sh -c 'echo changed > /hello.txt; rm /etc/arch; cat /hello.txt'
check_eq "run: a container can write its file system" changed "$OUT"
sx run --rm "$IMG" sh -c 'cat /hello.txt /etc/arch'
check_eq "run: another container's writes do not reach the image" "$(printf '%s\n' 'hello from layer 2' amd64)" "$OUT"

# ---------------------------------------------------------------- create / start
sx create "$IMG"
check_rc "create" 0
check_line_match "create prints a 64-hex container ID" "$OUT" '^[0-9a-f]{64}$'
C1=$OUT
sx ps -a
check_rc "ps -a" 0
check_table "ps -a: Docker's table" "$OUT" "CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|PORTS|NAMES"
check_eq "ps -a: one container" 1 "$(table_rows "$OUT")"
check_eq "ps -a: CONTAINER ID (12 hex)" "${C1:0:12}" "$(table_cell "$OUT" 1 1)"
check_eq "ps -a: IMAGE" "$IMG" "$(table_cell "$OUT" 1 2)"
check_eq "ps -a: COMMAND is quoted" '"/bin/cat /hello.txt"' "$(table_cell "$OUT" 1 3)"
check_line_match "ps -a: CREATED" "$(table_cell "$OUT" 1 4)" "^$RECENT_RE ago$"
check_eq "ps -a: STATUS Created" Created "$(table_cell "$OUT" 1 5)"
check_eq "ps -a: PORTS empty" "" "$(table_cell "$OUT" 1 6)"
N1=$(table_cell "$OUT" 1 7)
check_line_match "ps -a: a Docker-style name adjective_surname" "$N1" '^[a-z]+_[a-z]+[0-9]*$'
sx ps
check_eq "ps: a created container is not running" "" "$(printf '%s\n' "$OUT" | sed 1d)"
check_table "ps: the header alone" "$OUT" "CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|PORTS|NAMES"

sx start -a "$C1"
check_rc "start -a" 0
check_eq "start -a runs the image's Cmd in the foreground" "hello from layer 2" "$OUT"
sx ps -a
check_line_match "ps -a: STATUS Exited (0) … ago" "$(table_cell "$OUT" 1 5)" "^Exited \(0\) $RECENT_RE ago$"
sx inspect "$C1"
check_rc "inspect a container" 0
check_eq "inspect container: .[0].Id" "$C1" "$(printf '%s' "$OUT" | jq -r '.[0].Id' 2>&1)"
check_eq "inspect container: .[0].State.ExitCode" 0 "$(printf '%s' "$OUT" | jq -r '.[0].State.ExitCode' 2>&1)"
check_eq "inspect container: .[0].Name" "/$N1" "$(printf '%s' "$OUT" | jq -r '.[0].Name' 2>&1)"
sx inspect "$N1"
check_eq "inspect by name" "$C1" "$(printf '%s' "$OUT" | jq -r '.[0].Id' 2>&1)"
sx inspect "${C1:0:12}"
check_eq "inspect by short ID" "$C1" "$(printf '%s' "$OUT" | jq -r '.[0].Id' 2>&1)"

sx create "$IMG" sh -c 'echo 0123456789abcdef; exit 5'
C2=$OUT
sx start -a "$C2"
check_rc "start -a: the container's exit code (5)" 5
check_eq "start -a: the container's output" 0123456789abcdef "$OUT"
sx start "$C2"
check_rc "start (without -a): detached, exits 0" 0
check_eq "start (without -a) prints the container as named" "$C2" "$OUT"
sx wait "$C2"
check_eq "wait: the detached run's exit code (5)" 5 "$OUT"
sx inspect "$C2"
check_eq "inspect: .[0].State.ExitCode 5" 5 "$(printf '%s' "$OUT" | jq -r '.[0].State.ExitCode' 2>&1)"
sx ps -a --no-trunc
check_table "ps -a --no-trunc: Docker's table" "$OUT" "CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|PORTS|NAMES"
row=$(printf '%s\n' "$OUT" | grep -n "^$C2" | cut -d: -f1)
check_eq "ps -a --no-trunc: full CONTAINER ID" "$C2" "$(table_cell "$OUT" $((${row:-0} - 1)) 1)"
check_eq "ps -a --no-trunc: full COMMAND" '"sh -c echo 0123456789abcdef; exit 5"' "$(table_cell "$OUT" $((${row:-0} - 1)) 3)"
sx ps -a
row=$(printf '%s\n' "$OUT" | grep -n "^${C2:0:12}" | cut -d: -f1)
check_eq "ps -a: COMMAND truncated to 20 chars with …" '"sh -c echo 01234567…"' "$(table_cell "$OUT" $((${row:-0} - 1)) 3)"
check_line_match "ps -a: STATUS Exited (5)" "$(table_cell "$OUT" $((${row:-0} - 1)) 5)" "^Exited \(5\) $RECENT_RE ago$"
check_eq "ps -a: newest first" "${C2:0:12}" "$(table_cell "$OUT" 1 1)"
sx ps -a -q
check_eq "ps -a -q" "$(printf '%s\n' "${C2:0:12}" "${C1:0:12}")" "$OUT"
sx ps -a -q --no-trunc
check_eq "ps -a -q --no-trunc" "$(printf '%s\n' "$C2" "$C1")" "$OUT"
sx ps -q
check_eq "ps -q: nothing running" "" "$OUT"

# ---------------------------------------------------------------- run --name, a running container
sx run --name t-named "$IMG" true
check_rc "run --name" 0
sx ps -a
check_match "ps -a: NAMES shows t-named" "$OUT" '   t-named$'
check_fail "run --name with a name in use exits 125" 125 t-named -- run --name t-named "$IMG" true
sx inspect t-named
check_eq "inspect t-named: .[0].Name" /t-named "$(printf '%s' "$OUT" | jq -r '.[0].Name' 2>&1)"
sx run "$IMG" true
check_eq "run without --rm keeps the container" 4 "$(nctr)"

# long enough that a busy machine still sees it running through the checks
st run --name t-sleeper "$IMG" sleep 6 >/dev/null 2>&1 &
bg=$!
running=
for _ in $(seq 50); do
    sx ps
    case $OUT in *t-sleeper*) running=$OUT; break ;; esac
    sleep 0.1
done
check_contains "ps: lists a running container" "$running" t-sleeper
row=$(printf '%s\n' "$running" | grep -n 't-sleeper$' | cut -d: -f1)
check_line_match "ps: STATUS Up …" "$(table_cell "$running" $((${row:-0} - 1)) 5)" '^Up (Less than a second|[0-9]+ seconds?)$'
check_eq "ps: only running containers" 1 "$(table_rows "$running")"
sx ps -q
check_line_match "ps -q: the running container's ID" "$OUT" '^[0-9a-f]{12}$'
wait "$bg"
check_eq "run (sleep 6) exits 0" 0 $?
sx ps
check_eq "ps: the container is no longer running" 0 "$(table_rows "$OUT")"

# ---------------------------------------------------------------- rm
sx rm "$C1"
check_rc "rm ID" 0
check_eq "rm prints the ID as given" "$C1" "$OUT"
sx rm t-named
check_eq "rm NAME prints the name" t-named "$OUT"
sx rm "${C2:0:12}"
check_eq "rm short ID prints it" "${C2:0:12}" "$OUT"
check_fail "rm of a missing container exits 1" 1 "No such container: nosuch" -- rm nosuch
check_eq "rm: 'strata: error: No such container: nosuch'" "strata: error: No such container: nosuch" "$ERR"
check_fail "rm of a removed container exits 1" 1 "No such container: $C1" -- rm "$C1"
sx ps -a -q --no-trunc
check_not_contains "rm: the containers are gone" "$OUT" "$C1"
check_eq "two containers left" 2 "$(nctr)"
sx ps -a -q
for c in $OUT; do st rm "$c" >/dev/null; done
check_eq "rm of all containers" 0 "$(nctr)"
store_has_no_temp "after rm"
check_eq "no container records left" "" "$(find "$ROOT/containers" -name '*.json' 2>/dev/null)"

# ---------------------------------------------------------------- tag / inspect image
sx tag "$IMG" localhost/other:2
check_rc "tag" 0
sx images
check_eq "images: two rows after tag" 2 "$(table_rows "$OUT")"
sx images -q
check_eq "images -q: one ID for two tags" "$ID" "$OUT"
sx inspect localhost/other:2
check_rc "inspect image" 0
check_eq "inspect: a JSON array of one" true "$(printf '%s' "$OUT" | jq 'type == "array" and length == 1' 2>&1)"
check_eq "inspect: .[0].Id" "$CONFIG" "$(printf '%s' "$OUT" | jq -r '.[0].Id' 2>&1)"
check_eq "inspect: .[0].RepoTags" '["localhost/busybox:1","localhost/other:2"]' "$(printf '%s' "$OUT" | jq -c '.[0].RepoTags | sort' 2>&1)"
check_eq "inspect: .[0].Config.Cmd" '["/bin/cat","/hello.txt"]' "$(printf '%s' "$OUT" | jq -c '.[0].Config.Cmd' 2>&1)"
check_eq "inspect: .[0].Config.Labels" '{"org.example.fixture":"busybox"}' "$(printf '%s' "$OUT" | jq -c '.[0].Config.Labels' 2>&1)"
sx inspect "$ID"
check_eq "inspect by image ID" "$CONFIG" "$(printf '%s' "$OUT" | jq -r '.[0].Id' 2>&1)"
check_fail "inspect of a missing object exits 1" 1 -- inspect localhost/no-such-image:1
check_fail "tag of a missing image exits 1" 1 -- tag localhost/no-such-image:1 localhost/x:1

# ---------------------------------------------------------------- rmi
sx rmi localhost/other:2
check_rc "rmi of one of two tags" 0
check_eq "rmi of one of two tags only untags" "Untagged: localhost/other:2" "$OUT"
sx images -q
check_eq "the image is still there" "$ID" "$OUT"

sx create --name t-user "$IMG"
C3=$OUT
sx rmi "$IMG"
check_rc "rmi refuses while a container uses the image" 1
check_match "rmi: the error names the container" "$ERR" "(${C3:0:12}|t-user)"
check_error "rmi: one error line" 1
sx images -q
check_eq "rmi refused: the image is still there" "$ID" "$OUT"
sx rmi -f "$IMG"
check_rc "rmi -f" 0
check_match "rmi -f: 'Untagged: $IMG'" "$OUT" "^Untagged: $IMG$"
check_match "rmi -f: 'Deleted: sha256:…' for the image" "$OUT" "^Deleted: $CONFIG$"
sx images -q
check_eq "rmi -f: no image left" "" "$OUT"
sx rm t-user
check_rc "rm of a container whose image was removed" 0
check_fail "rmi of a missing image exits 1" 1 -- rmi "$IMG"

# pull again, rmi without containers: everything goes
sx pull "oci:$BB:1"
check_rc "pull again after rmi" 0
check_match "pull again after rmi downloads it again" "$OUT" "^Status: Downloaded newer image for $IMG$"
sx rmi "$IMG"
check_rc "rmi" 0
check_eq "rmi: first line 'Untagged: $IMG'" "Untagged: $IMG" "$(printf '%s\n' "$OUT" | head -1)"
check_match "rmi: 'Deleted: $CONFIG'" "$OUT" "^Deleted: $CONFIG$"
check_eq "rmi: only 'Untagged:' lines, then only 'Deleted:' lines" "Untagged|Deleted" \
    "$(printf '%s\n' "$OUT" | sed -E 's/^(Untagged|Deleted): .*/\1/' | uniq | paste -sd'|')"
store_has_no_temp "after rmi"
store_has_no_layers "after the last rmi"
finish
