#!/bin/bash
# lifecycle.sh - the daemonless container lifecycle, on real namespaces and
# on each storage driver (overlay, btrfs on a loopback file, copy): run -d
# outlives the command under its monitor, ps shows "Up", logs (and -f),
# stop (SIGTERM then SIGKILL after -t), kill -s, wait, exec into the
# container's namespaces, attach, two containers on one image, --rm -d,
# a monitor killed with SIGKILL, -t with a real terminal, container prune.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store

BB=$FIXTURES/busybox
IMG=localhost/busybox:1
# a check that failed half-way must not leave monitors (and their
# containers, which die with them) behind for the sleeps' 1000 s
kill_monitors() {
    local m
    for m in $(cat "$TMPD"/*/containers/*.json "$TMPD"/btrfs/root/containers/*.json 2>/dev/null |
               jq -r '.State | select(.Status == "running") | .StrataMonitorPid // empty' 2>/dev/null); do
        [ "$m" -gt 1 ] && kill -9 "$m" 2>/dev/null
    done
    return 0
}
trap 'rc_=$?; kill_monitors; (exit $rc_); cleanup' EXIT
for ns in mnt pid uts ipc net cgroup; do
    [ -e "/proc/self/ns/$ns" ] || skip_all "the kernel lacks $ns namespaces"
done
command -v python3 >/dev/null || die "python3 is needed (the -t checks drive a pty with it)"

# the driven terminal: python3 PTY ROWS COLS CMD... prints what CMD wrote
cat > "$TMPD/drive-tty.py" <<'EOF'
import os, pty, sys, fcntl, termios, struct, select
rows, cols = int(sys.argv[1]), int(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[3], sys.argv[3:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
out = b''
while True:
    r, _, _ = select.select([fd], [], [], 20)
    if not r:
        break
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace').replace('\r', ''))
sys.exit(os.waitstatus_to_exitcode(st))
EOF
tty_run() { timeout -k 5 30 python3 "$TMPD/drive-tty.py" "$@"; }

# poll DESC SECONDS CMD... : until CMD succeeds (0) or time runs out (1)
poll() { local i; for ((i = 0; i < $2 * 10; i++)); do "${@:3}" && return 0; sleep 0.1; done; return 1; }
state_of() { st "${S[@]}" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1" 2>/dev/null; }
ps_status() { st "${S[@]}" ps -a --filter "name=^$1\$" --format '{{.Status}}' 2>/dev/null; }
exited() { case $(ps_status "$1") in Exited*) return 0 ;; esac; return 1; }
is_gone() { [ -z "$(st "${S[@]}" ps -aq --filter "id=$1")" ]; }

# ---------------------------------------------------------------- btrfs store
btrfs_store "$TMPD" 1G

for D in $DRIVERS; do
    if [ "$D" = btrfs ]; then ROOT=$BTRFS_MNT/root; else ROOT=$TMPD/root-$D; fi
    S=(--storage-driver "$D")
    sx "${S[@]}" pull "oci:$BB:1"
    check_rc "$D: pull busybox:1" 0 || { show_last; continue; }

    # ------------------------------------------------ run -d, ps, logs, exec
    sx "${S[@]}" run -d --name ca "$IMG" sh -c \
        'echo first; echo oops >&2; while [ ! -e /go ]; do sleep 0.1; done; echo second; exec sleep 1000'
    check_rc "$D: run -d exits 0 at once" 0
    check_line_match "$D: run -d prints the full container ID" "$OUT" '^[0-9a-f]{64}$'
    A=$OUT
    check_match "$D: ps shows the detached container Up after the command left" \
        "$(st "${S[@]}" ps --format '{{.Names}} {{.Status}}')" "^ca Up (Less than a second|[0-9]+ seconds?)$"
    pid=$(st "${S[@]}" inspect -f '{{.State.Pid}}' ca)
    check_eq "$D: State.Pid is the container's PID 1 as the host sees it" \
        "sh 1" "$(cat "/proc/$pid/comm" 2>&1) $(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status" 2>&1)"
    poll "" 5 sh -c "grep -q oops '$ROOT/containers/$A/$A-json.log' 2>/dev/null"
    sx "${S[@]}" logs ca
    check_eq "$D: logs: stdout to stdout" first "$OUT"
    check_eq "$D: logs: stderr to stderr" oops "$ERR"
    check_line_match "$D: the log is Docker's json-file format" \
        "$(head -1 "$ROOT/containers/$A/$A-json.log")" \
        '^\{"log":"first\\n","stream":"stdout","time":"[0-9-]{10}T[0-9:.]+Z"\}$'
    sx "${S[@]}" logs -t ca
    check_match "$D: logs -t puts the time first" "$OUT" '^[0-9-]{10}T[0-9:.]+Z first$'
    st "${S[@]}" logs -f ca > "$TMPD/follow" 2>/dev/null & fpid=$!
    sx "${S[@]}" exec ca sh -c ": > /go"
    check_rc "$D: exec creates a file" 0
    poll "" 5 grep -q second "$TMPD/follow"
    check_eq "$D: logs -f picks up a new line" "$(printf '%s\n' first second)" "$(cat "$TMPD/follow")"

    sx "${S[@]}" exec ca cat /proc/sys/kernel/hostname
    check_eq "$D: exec shares the container's UTS namespace (host name)" "${A:0:12}" "$OUT"
    sx "${S[@]}" exec ca busybox ps -o pid,args
    check_match "$D: exec shares the PID namespace: PID 1 is the container's command" "$OUT" '^ +1 +sleep 1000$'
    sx "${S[@]}" exec ca sh -c 'for ns in mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$ns; done'
    check_eq "$D: exec is in every namespace of the container" \
        "$(for ns in mnt pid net ipc uts cgroup; do readlink "/proc/$pid/ns/$ns"; done)" "$OUT"
    sx "${S[@]}" exec -u 1000 -w /tmp -e X=y ca sh -c 'echo "$(id -u) $PWD $X"; exit 7'
    check_rc "$D: exec passes the exit code through (7)" 7
    check_eq "$D: exec -u -w -e" "1000 /tmp y" "$OUT"
    check_fail "$D: exec of a missing command exits 127" 127 'executable file not found' -- "${S[@]}" exec ca nope
    OUT=$(printf 'in-exec\n' | timeout 10 "$STRATA" --root "$ROOT" "${S[@]}" exec -i ca cat)
    check_eq "$D: exec -i feeds stdin" in-exec "$OUT"

    # ------------------------------------------------ stop: SIGKILL after -t
    t0=$(date +%s%N)
    sx "${S[@]}" stop -t 1 ca
    t1=$(date +%s%N)
    check_rc "$D: stop a trap-less PID 1" 0
    ms=$(((t1 - t0) / 1000000))
    if [ "$ms" -ge 1000 ] && [ "$ms" -lt 6000 ]; then ok "$D: stop -t 1 waits 1 s, then kills (${ms} ms)"
    else not_ok "$D: stop -t 1 waits 1 s, then kills"; note "took ${ms} ms"; fi
    sx "${S[@]}" wait ca
    check_eq "$D: wait prints 137 (SIGKILL)" 137 "$OUT"
    poll "" 5 sh -c "! kill -0 $fpid 2>/dev/null"
    check_eq "$D: logs -f ends when the container does" gone "$(kill -0 $fpid 2>/dev/null && echo running || echo gone)"
    check_line_match "$D: ps -a: Exited (137)" "$(ps_status ca)" '^Exited \(137\) '
    sx "${S[@]}" logs ca
    check_eq "$D: logs after the exit" "$(printf '%s\n' first second)" "$OUT"

    # ------------------------------------------------ stop: a TERM trap, kill -s
    sx "${S[@]}" run -d --name cb "$IMG" sh -c "trap 'exit 3' TERM; : > /ready; sleep 1000 & wait"
    poll "" 5 sh -c "timeout 5 '$STRATA' --root '$ROOT' exec cb test -e /ready"
    t0=$(date +%s%N)
    sx "${S[@]}" stop cb
    t1=$(date +%s%N)
    check_eq "$D: stop prints the container's name" cb "$OUT"
    [ $(((t1 - t0) / 1000000)) -lt 5000 ] && ok "$D: stop of a TERM-trapping container returns within the timeout" ||
        not_ok "$D: stop of a TERM-trapping container returns within the timeout"
    sx "${S[@]}" wait cb
    check_eq "$D: the trap's exit code (3)" 3 "$OUT"
    sx "${S[@]}" run -d --name cc "$IMG" sh -c "trap 'exit 4' USR1; : > /ready; sleep 1000 & wait"
    poll "" 5 sh -c "timeout 5 '$STRATA' --root '$ROOT' exec cc test -e /ready"
    sx "${S[@]}" kill -s USR1 cc
    check_eq "$D: kill -s USR1 prints the name" cc "$OUT"
    sx "${S[@]}" wait cc
    check_eq "$D: kill -s USR1 reached PID 1 (exit 4)" 4 "$OUT"
    check_fail "$D: kill of a stopped container fails" 1 "is not running" -- "${S[@]}" kill cc
    check_fail "$D: kill -s with an unknown signal" 1 "Invalid signal" -- "${S[@]}" kill -s NOPE cc

    # ------------------------------------------------ two containers, one image
    sx "${S[@]}" run -d --name x1 "$IMG" sh -c 'echo one > /w; exec sleep 1000'
    sx "${S[@]}" run -d --name x2 --security-opt no-new-privileges "$IMG" sh -c 'echo two > /w; exec sleep 1000'
    poll "" 5 sh -c "timeout 5 '$STRATA' --root '$ROOT' exec x2 test -e /w && timeout 5 '$STRATA' --root '$ROOT' exec x1 test -e /w"
    check_eq "$D: two containers on one image each see their own writes" "one two" \
        "$(st "${S[@]}" exec x1 cat /w) $(st "${S[@]}" exec x2 cat /w)"
    check_eq "$D: exec keeps the container's no-new-privileges (x1 without, x2 with)" "0 1" \
        "$(st "${S[@]}" exec x1 grep NoNewPrivs /proc/self/status | awk '{print $2}') $(st "${S[@]}" exec x2 grep NoNewPrivs /proc/self/status | awk '{print $2}')"
    check_eq "$D: ps lists both, same IMAGE" "$IMG Up|$IMG Up" \
        "$(st "${S[@]}" ps --filter name=^x --format '{{.Image}} {{.State}}' | sed 's/running/Up/' | paste -sd'|')"
    sx "${S[@]}" rm -f x1 x2
    check_eq "$D: rm -f stops and removes running containers" "$(printf '%s\n' x1 x2)" "$OUT"
    check_eq "$D: ... and they are gone" "" "$(st "${S[@]}" ps -a --filter name=^x -q)"

    # ------------------------------------------------ --rm -d
    sx "${S[@]}" run --rm -d "$IMG" sh -c 'echo bye; sleep 0.3'
    R=$OUT
    poll "" 10 is_gone "$R"
    check_eq "$D: --rm -d: the record is gone after the exit" "" "$(ls "$ROOT/containers" | grep "$R")"
    check_eq "$D: --rm -d: no container storage left" "" \
        "$(find "$ROOT/storage/$D/containers" -maxdepth 1 -name "$R*" 2>/dev/null)"

    # ------------------------------------------------ the monitor killed with SIGKILL
    sx "${S[@]}" run -d --name ck "$IMG" sleep 1000
    K=$OUT
    mon=$(jq -r .State.StrataMonitorPid "$ROOT/containers/$K.json")
    cpid=$(jq -r .State.Pid "$ROOT/containers/$K.json")
    [ "$mon" -gt 1 ] 2>/dev/null && kill -9 "$mon"
    poll "" 5 exited ck
    check_line_match "$D: a container whose monitor was killed is not running" "$(ps_status ck)" '^Exited \(255\) '
    poll "" 5 sh -c "[ ! -e /proc/$cpid ]"
    check_eq "$D: its process went with the monitor" gone "$([ -e "/proc/$cpid" ] && echo alive || echo gone)"
    sx "${S[@]}" wait ck
    check_eq "$D: wait on it returns" 255 "$OUT"

    # ------------------------------------------------ a foreground run is logged too
    sx "${S[@]}" run --name fg "$IMG" echo hello-fg
    check_eq "$D: foreground run prints" hello-fg "$OUT"
    sx "${S[@]}" logs fg
    check_eq "$D: logs of a foreground run" hello-fg "$OUT"

    # ------------------------------------------------ container prune
    sx "${S[@]}" create --name cr "$IMG" true
    CR=$OUT
    sx "${S[@]}" run -d --name keep "$IMG" sleep 1000
    KEEP=$OUT
    gone=$(st "${S[@]}" ps -aq --no-trunc --filter status=exited --filter status=created | sort)
    sx "${S[@]}" container prune -f
    check_rc "$D: container prune -f" 0
    check_eq "$D: prune: Deleted Containers: with every stopped one" \
        "$gone" "$(printf '%s\n' "$OUT" | sed -n '/^Deleted Containers:$/,/^$/p' | grep -E '^[0-9a-f]{64}$' | sort)"
    check_contains "$D: prune removed the created one" "$gone" "$CR"
    check_match "$D: prune: Total reclaimed space" "$OUT" '^Total reclaimed space: [0-9.]+[kMG]?B$'
    check_eq "$D: prune kept the running container only" "$KEEP" "$(st "${S[@]}" ps -aq --no-trunc)"
    check_eq "$D: prune left no logs behind" "$KEEP" "$(ls "$ROOT/containers" | grep -v json)"
    st "${S[@]}" rm -f keep >/dev/null
    check_eq "$D: nothing left mounted" "" "$(awk -v d="$ROOT/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo)"
done

# ---------------------------------------------------------------- storage-independent
ROOT=$TMPD/root-overlay
S=()
# -t: a real terminal inside the container, sized like ours
OUT=$(tty_run 30 100 "$STRATA" --root "$ROOT" run --rm -t "$IMG" sh -c 'busybox tty; busybox stty size; test -t 0 && echo stdin-tty')
check_eq "-t: tty names the container's /dev/pts/0, stty size is the caller's, stdin is a terminal" \
    "$(printf '%s\n' /dev/pts/0 '30 100' stdin-tty)" "$OUT"
st run -d --name tt "$IMG" sleep 1000 >/dev/null
OUT=$(tty_run 40 120 "$STRATA" --root "$ROOT" exec -it tt sh -c 'busybox tty; busybox stty size; exit 6')
RC=$?
check_line_match "exec -it: a terminal of the exec's own, sized like ours" "$(printf '%s\n' "$OUT" | paste -sd' ')" '^/dev/pts/[0-9]+ 40 120$'
check_eq "exec -it: the exit code passes through" 6 "$RC"
sx run --rm "$IMG" sh -c 'test -t 1 && echo tty || echo no-tty'
check_eq "without -t the container's stdout is no terminal" no-tty "$OUT"

# attach: a detached -i container's stdin and output
st run -d -i --name at "$IMG" sh -c 'read l; echo "got $l"; exit 9' >/dev/null
OUT=$(printf 'via-attach\n' | timeout 10 "$STRATA" --root "$ROOT" attach at)
RC=$?
check_eq "attach: stdin in, output out" "got via-attach" "$OUT"
check_eq "attach exits with the container's code" 9 "$RC"
check_fail "attach to a stopped container fails" 1 "stopped container" -- attach at

# foreground run: SIGTERM reaches the container's PID 1
"$STRATA" --root "$ROOT" run --rm "$IMG" sh -c "trap 'exit 5' TERM; : > /ready; sleep 1000 & wait" >/dev/null 2>&1 </dev/null & fg=$!
poll "" 5 sh -c "timeout 5 '$STRATA' --root '$ROOT' ps --format '{{.Command}}' | grep -q trap"
sleep 0.3
kill -TERM $fg
wait $fg
check_eq "foreground run forwards SIGTERM to PID 1 (its trap exits 5)" 5 "$?"
st rm -f tt >/dev/null
check_fail "logs of a missing container" 1 "No such container" -- logs nope
check_fail "exec needs a command" 125 "requires at least 2 arguments" -- exec tt
check_fail "exec into a stopped container" 125 "is not running" -- exec at true
finish
