#!/bin/bash
# isolation.sh - the run options of the isolation backends, on each storage
# driver (overlay, btrfs on a loopback file, copy): PID 1, host name,
# Docker's 14 capabilities and --cap-add/--cap-drop/--privileged changing
# them, no-new-privileges, --network none and host, masked paths, --memory
# and --pids-limit enforced, no leaked fd, the /proc/self/fd/N working
# directory, an image whose /proc is a symlink refused, -v, --tmpfs,
# --read-only, --env-file, -u with supplementary groups, and a container's
# writable layer holding only what its command wrote (the init layer keeps
# the mount points).  The same run tests go through --isolation oci-runtime
# --runtime runc.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store

BB=$FIXTURES/busybox
IMG=localhost/busybox:1
DOCKER_CAPS=00000000a80425fb
for ns in mnt pid uts ipc net cgroup; do
    [ -e "/proc/self/ns/$ns" ] || skip_all "the kernel lacks $ns namespaces"
done
command -v umoci >/dev/null || die "umoci is needed (apt-get install umoci)"
RUNC=$(command -v runc) || die "runc is needed for the oci-runtime backend (apt-get install runc)"

capline() { printf '%s\n' "$OUT" | awk -v k="$1:" '$1 == k { print $2 }'; }
host_bnd=$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)
host_devs=$(find /dev -maxdepth 1 \( -type c -o -type b \) | wc -l)
host_ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | paste -sd' ')

# ---------------------------------------------------------------- images of our own
# bad:proc-link = busybox:1 + /proc -> /; bad:groups = busybox:1 + an
# /etc/group listing "user" in two more groups
BAD=$TMPD/bad
cp -a "$BB" "$BAD"
mkdir -p "$TMPD/l-proc" "$TMPD/l-grp/etc"
ln -s / "$TMPD/l-proc/proc"
tar -C "$TMPD/l-proc" --numeric-owner -cf "$TMPD/l-proc.tar" proc
printf '%s\n' 'root:x:0:' 'user:x:1000:' 'staff:x:50:user' 'audio:x:29:other,user' 'nogroup:x:65534:' \
    > "$TMPD/l-grp/etc/group"
tar -C "$TMPD/l-grp" --numeric-owner --owner=0 --group=0 -cf "$TMPD/l-grp.tar" etc
umoci raw add-layer --image "$BAD:1" --tag proc-link "$TMPD/l-proc.tar" >/dev/null 2>&1 &&
    umoci raw add-layer --image "$BAD:1" --tag groups "$TMPD/l-grp.tar" >/dev/null 2>&1 ||
    die "umoci raw add-layer failed"

mkdir -p "$TMPD/vol"
echo "from the host" > "$TMPD/vol/f"
printf '%s\n' '# a comment' '' 'FROMFILE=one' 'BOTH=file' '  SPACED=two' > "$TMPD/env.list"

# ---------------------------------------------------------------- btrfs store
btrfs_store "$TMPD" 1G

# The container's own writable layer, as the driver keeps it.
ctr_layer() { # DRIVER ID
    case $1 in
        overlay) echo "$ROOT/storage/overlay/containers/$2/diff" ;;
        copy) echo "$ROOT/storage/copy/containers/$2/rootfs" ;;
        btrfs) echo "$ROOT/storage/btrfs/containers/$2" ;;
    esac
}
list_tree() { (cd "$1" 2>/dev/null && find . -mindepth 1 | sort); }

# ---------------------------------------------------------------- the checks, for one backend
suite() { # DRIVER BACKEND-OPTIONS... ; prefix P
    local D=$1 c n before after added
    shift

    # one run for the defaults: fds first, before the shell opens any
    sx --storage-driver "$D" "$@" run --rm --hostname box "$IMG" sh -c \
        'ls /proc/self/fd | paste -sd" "; echo $$; cat /proc/sys/kernel/hostname; cat /proc/self/status
         tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | paste -sd" "
         wc -c < /proc/keys; ls -A /sys/firmware | wc -l; echo x > /proc/sys/kernel/hostname || echo ro' \
        7</ 8<"$BB/index.json"
    check_eq "$P: no fd of the engine in the container (0 1 2 + ls's own)" "0 1 2 3" "$(printf '%s\n' "$OUT" | sed -n 1p)"
    check_eq "$P: PID 1 and --hostname" "$(printf '%s\n' 1 box)" "$(printf '%s\n' "$OUT" | sed -n 2,3p)"
    check_eq "$P: CapEff is Docker's default 14" "$DOCKER_CAPS" "$(capline CapEff)"
    check_eq "$P: CapBnd is Docker's default 14" "$DOCKER_CAPS" "$(capline CapBnd)"
    check_eq "$P: NoNewPrivs 0 by default" 0 "$(capline NoNewPrivs)"
    check_eq "$P: --network none (default): only lo" lo "$(printf '%s\n' "$OUT" | tail -4 | head -1)"
    check_eq "$P: masked /proc/keys and /sys/firmware, read-only /proc/sys" "$(printf '%s\n' 0 0 ro)" "$(printf '%s\n' "$OUT" | tail -3)"

    sx --storage-driver "$D" "$@" run --rm --cap-add net_admin --cap-drop CAP_CHOWN --security-opt no-new-privileges "$IMG" cat /proc/self/status
    check_eq "$P: --cap-add net_admin --cap-drop CAP_CHOWN" 00000000a80435fa "$(capline CapEff)"
    check_eq "$P: ... the bounding set follows" 00000000a80435fa "$(capline CapBnd)"
    check_eq "$P: --security-opt no-new-privileges: NoNewPrivs 1" 1 "$(capline NoNewPrivs)"
    sx --storage-driver "$D" "$@" run --rm --cap-drop ALL --cap-add KILL "$IMG" cat /proc/self/status
    check_eq "$P: --cap-drop ALL --cap-add KILL" 0000000000000020 "$(capline CapEff)"
    sx --storage-driver "$D" "$@" run --rm --privileged "$IMG" sh -c 'cat /proc/self/status; wc -c < /proc/keys; ls /dev | grep -c .'
    check_eq "$P: --privileged: every capability the engine has" "$host_bnd" "$(capline CapEff)"
    check_line_match "$P: --privileged: /proc/keys is not masked" "$(printf '%s\n' "$OUT" | tail -2 | head -1)" '^[1-9][0-9]*$'
    n=$(printf '%s\n' "$OUT" | tail -1)
    if [ "$n" -ge "$host_devs" ]; then ok "$P: --privileged: the host's $host_devs device nodes in /dev"
    else not_ok "$P: --privileged: the host's device nodes in /dev"; note "$n entries in /dev, the host has $host_devs devices"; fi
    sx --storage-driver "$D" "$@" run --rm --network host "$IMG" sh -c "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | paste -sd' '"
    check_eq "$P: --network host: the host's interfaces" "$host_ifaces" "$OUT"

    sx --storage-driver "$D" "$@" run --rm -m 32m "$IMG" busybox dd if=/dev/zero of=/dev/null bs=128M count=1
    check_rc "$P: --memory 32m: a 128 MiB allocation is killed (137)" 137
    # (not lower: runc's own init, a Go program, starts its threads in the
    # container's cgroup, and can itself fail to start under a tiny limit)
    sx --storage-driver "$D" "$@" run --rm --pids-limit 16 "$IMG" sh -c 'for i in $(seq 24); do sleep 1 & done; wait; echo done'
    check_contains "$P: --pids-limit 16: forks past the limit fail" "$ERR" "can't fork"

    sx --storage-driver "$D" "$@" run --rm -w /proc/self/fd/7 "$IMG" sh -c 'ls -A . | sort | paste -sd" "' 7</
    if [ "$RC" = 0 ]; then
        check_not_contains "$P: -w /proc/self/fd/7 stays inside the container" "$OUT" "$(ls -A / | sort | paste -sd' ')"
    else
        check_rc "$P: -w /proc/self/fd/7 is refused (125)" 125
    fi
    sx --storage-driver "$D" "$@" run --rm localhost/bad:proc-link true
    check_rc "$P: an image whose /proc is a symlink is refused (125)" 125
    check_contains "$P: ... saying why" "$ERR" "/proc"

    sx --storage-driver "$D" "$@" run --rm --read-only -v "$TMPD/vol:/mnt/vol" -v "$TMPD/vol:/ro:ro" --tmpfs /scratch:size=1m \
        "$IMG" sh -c 'cat /mnt/vol/f; echo w > /mnt/vol/w && echo rw; touch /ro/x 2>/dev/null || echo ro; echo t > /scratch/t && echo tmpfs; grep " /scratch " /proc/mounts | cut -d" " -f3; touch /x 2>/dev/null || echo rootfs-ro'
    check_eq "$P: -v rw, -v :ro, --tmpfs, --read-only" "$(printf '%s\n' 'from the host' rw ro tmpfs tmpfs rootfs-ro)" "$OUT"
    check_eq "$P: -v wrote through to the host" w "$(cat "$TMPD/vol/w" 2>&1)"
    rm -f "$TMPD/vol/w"
    sx --storage-driver "$D" "$@" run --rm --env-file "$TMPD/env.list" -e BOTH=flag -u user localhost/bad:groups sh -c 'echo $FROMFILE $BOTH $SPACED; id -G'
    check_eq "$P: --env-file, -e overriding it" "one flag two" "$(printf '%s\n' "$OUT" | sed -n 1p)"
    check_eq "$P: -u user: supplementary groups from the image's /etc/group" "1000 29 50" "$(printf '%s\n' "$OUT" | sed -n 2p)"
    sx --storage-driver "$D" "$@" run --rm -u user:audio localhost/bad:groups id -G
    check_eq "$P: -u user:audio: that group only (Docker's rule)" 29 "$OUT"

    # the writable layer holds only what the command wrote
    sx --storage-driver "$D" create "$IMG" sh -c 'echo w > /tmp/written'
    c=$OUT
    before=$(list_tree "$(ctr_layer "$D" "$c")")
    sx --storage-driver "$D" "$@" start "$c"
    check_rc "$P: start a container that writes /tmp/written" 0
    after=$(list_tree "$(ctr_layer "$D" "$c")")
    added=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep -vx './tmp' | paste -sd' ')
    check_eq "$P: the writable layer gained /tmp/written only (no mount points)" ./tmp/written "$added"
    check_eq "$P: ... and lost nothing" "" "$(comm -23 <(printf '%s\n' "$before") <(printf '%s\n' "$after"))"
    st --storage-driver "$D" rm "$c" >/dev/null
}

for D in $DRIVERS; do
    if [ "$D" = btrfs ]; then ROOT=$BTRFS_MNT/root; else ROOT=$TMPD/root-$D; fi
    sx --storage-driver "$D" pull "oci:$BB:1"
    check_rc "$D: pull busybox:1" 0 || { show_last; continue; }
    sx --storage-driver "$D" pull "oci:$BAD:proc-link"
    sx --storage-driver "$D" pull "oci:$BAD:groups"
    check_rc "$D: pull the test's own images" 0
    P="$D/namespaces" suite "$D" --isolation namespaces
    # runc sees only the mounted root, whatever the driver: the whole suite
    # once (overlay, half a second a run), a run on the others
    if [ "$D" = overlay ]; then
        P="$D/runc" suite "$D" --isolation oci-runtime --runtime runc
    else
        sx --storage-driver "$D" --isolation oci-runtime --runtime runc run --rm "$IMG" sh -c 'echo $$; grep CapEff /proc/self/status'
        check_eq "$D/runc: PID 1, Docker's capabilities" "$(printf '1\nCapEff:\t%s' "$DOCKER_CAPS")" "$OUT"
    fi
    sx --storage-driver "$D" ps -a -q
    check_eq "$D: --rm left no container" "" "$OUT"
    check_eq "$D: no bundle left behind" "" "$(find "$ROOT/plugins/isolation-oci-runtime" -mindepth 2 -maxdepth 2 ! -path '*/state*' 2>/dev/null)"
done

# ---------------------------------------------------------------- errors and what the backends refuse
ROOT=$TMPD/root-overlay
check_fail "an unknown capability is refused" 125 "unknown capability" -- run --rm --cap-add NOPE "$IMG" true
check_fail "--network bridge is refused, naming what works" 125 "none" "host" -- run --rm --network bridge "$IMG" true
check_fail "--security-opt seccomp=... is refused" 125 "no-new-privileges" -- run --rm --security-opt seccomp=x "$IMG" true
check_fail "-v with a relative host path is refused" 125 "absolute" -- run --rm -v vol:/x "$IMG" true
check_fail "-v onto /proc is refused" 125 "/proc" -- run --rm -v "$TMPD/vol:/proc/x" "$IMG" true
check_fail "chroot refuses --cap-add it cannot apply" 125 "cannot apply" -- --isolation chroot run --rm --cap-add NET_ADMIN "$IMG" true
check_fail "chroot refuses -v it cannot apply" 125 "cannot apply" -- --isolation chroot run --rm -v "$TMPD/vol:/v" "$IMG" true
check_fail "--userns auto: no backend runs user namespaces yet, said plainly" 125 "user namespace" -- \
    run --rm --userns auto "$IMG" true
sx --isolation oci-runtime --runtime /nonexistent/runc run --rm "$IMG" true
check_rc "oci-runtime with a missing --runtime fails (125)" 125
check_contains "... saying which runtime" "$ERR" "/nonexistent/runc"
sx --isolation oci-runtime --runtime runc run --rm "$IMG" sh -c 'exit 7'
check_rc "oci-runtime passes the exit code through" 7
sx --isolation oci-runtime --runtime runc run --rm "$IMG" nosuchcommand
check_rc "oci-runtime: a command not found exits 127" 127
sx --isolation oci-runtime --runtime runc run --rm "$IMG" /etc/passwd
check_rc "oci-runtime: a command that cannot be executed exits 126" 126
sx run --name t-hc --cap-add NET_ADMIN --cap-drop chown --privileged --security-opt no-new-privileges \
    --network host --read-only -v "$TMPD/vol:/v:ro" --tmpfs /t:size=1m "$IMG" true
sx inspect t-hc
check_eq "inspect: HostConfig in Docker's names" \
    '["CAP_NET_ADMIN"] ["CAP_CHOWN"] true ["no-new-privileges"] "host" true ["'"$TMPD"'/vol:/v:ro"] {"/t":"size=1m"}' \
    "$(printf '%s' "$OUT" | jq -c '.[0].HostConfig | .CapAdd, .CapDrop, .Privileged, .SecurityOpt, .NetworkMode, .ReadonlyRootfs, .Binds, .Tmpfs' 2>&1 | paste -sd' ')"
st rm t-hc >/dev/null
check_eq "no mount of the containers is left in the host's mount table" "" \
    "$(grep -F "$TMPD" /proc/self/mountinfo | grep -v " $BTRFS_MNT " | grep -vF "$TMPD/btrfs ")"
[ -n "$BTRFS_MNT" ] && umount "$BTRFS_MNT"
finish
