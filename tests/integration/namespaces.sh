#!/bin/bash
# namespaces.sh - the namespaces isolation backend, on real namespaces and
# mounts: PID 1, host name, Docker's capability set, masked and read-only
# paths, /dev, loopback-only network, no leaked file descriptors, the
# /proc/self/fd/N working-directory escape, images with /proc, /sys or /dev
# as a symlink, exit codes and signals, user, env and working directory.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store

BB=$FIXTURES/busybox
IMG=localhost/busybox:1
DOCKER_CAPS=00000000a80425fb    # Docker's 14 default capabilities

# every namespace this backend must create
for ns in mnt pid uts ipc net cgroup; do
    [ -e "/proc/self/ns/$ns" ] || skip_all "the kernel lacks $ns namespaces"
done
command -v umoci >/dev/null || die "umoci is needed (apt-get install umoci)"

nsrun() { sx --isolation namespaces run --rm "$@"; }
nctr() { sx ps -a -q; printf '%s\n' "$OUT" | grep -c .; }
capline() { printf '%s\n' "$OUT" | awk -v k="$1:" '$1 == k { print $2 }'; }

sx pull "oci:$BB:1"
check_rc "pull oci:busybox:1" 0 || { show_last; finish; }

host_name=$(cat /proc/sys/kernel/hostname)

# ---------------------------------------------------------------- the plugin
sx info
check_rc "info" 0
check_contains "info: the namespaces plugin isolates" \
    "$(printf '%s\n' "$OUT" | sed -n '/isolation namespaces:/,/Probe:/p')" "Isolates:     yes"
check_contains "info: the namespaces probe passes" \
    "$(printf '%s\n' "$OUT" | sed -n '/isolation namespaces:/,/Probe:/p')" "Probe:        ok"
sx run --name t-default "$IMG" true
sx inspect t-default
check_eq "namespaces is the default backend" namespaces "$(printf '%s' "$OUT" | jq -r '.[0].Isolation' 2>&1)"
st rm t-default >/dev/null

# ---------------------------------------------------------------- namespaces
nsrun "$IMG" sh -c 'echo $$'
check_eq "the command is PID 1" 1 "$OUT"
nsrun "$IMG" cat /proc/1/cmdline
check_eq "PID 1 is the command itself (/proc/1/cmdline)" "cat/proc/1/cmdline" "$(printf '%s' "$OUT" | tr -d '\0')"
nsrun "$IMG" sh -c 'sleep 1 & ls -d /proc/[0-9]*; kill $!'
check_eq "the container sees only its own processes (sh and its sleep)" "$(printf '%s\n' /proc/1 /proc/2)" "$OUT"
nsrun "$IMG" readlink /proc/1/exe
check_eq "/proc/1/exe is the container's binary, not the engine" /bin/busybox "$OUT"
for ns in mnt pid uts ipc net cgroup; do
    nsrun "$IMG" readlink "/proc/self/ns/$ns"
    inside=$OUT
    check_match "a new $ns namespace" "$inside" "^$ns:\[[0-9]+\]$" &&
        check_not_contains "the $ns namespace is not the host's" "$inside" "$(readlink "/proc/self/ns/$ns")"
done
nsrun "$IMG" cat /proc/self/cgroup
check_eq "cgroup namespace: every hierarchy's root is the container's cgroup" "/" \
    "$(printf '%s\n' "$OUT" | cut -d: -f3 | sort -u)"

# host name: the short ID by default, --hostname otherwise
sx create "$IMG" cat /proc/sys/kernel/hostname
C=$OUT
sx --isolation namespaces start -a "$C"
check_eq "the host name is the container ID's first 12 characters" "${C:0:12}" "$OUT"
st rm "$C" >/dev/null
nsrun --hostname box-1 "$IMG" sh -c 'cat /proc/sys/kernel/hostname; busybox hostname'
check_eq "--hostname sets the container's host name" "$(printf '%s\n' box-1 box-1)" "$OUT"
check_eq "the host's name is untouched" "$host_name" "$(cat /proc/sys/kernel/hostname)"

# /etc/hostname and /etc/hosts: bound in from the engine, as Docker does
nsrun --hostname box-2 "$IMG" sh -c 'cat /etc/hostname; grep -c "^127.0.0.1	localhost$" /etc/hosts; echo "10.0.0.1 x" >> /etc/hosts && echo appended'
check_eq "/etc/hostname holds the host name, /etc/hosts localhost; root may edit it" "$(printf '%s\n' box-2 1 appended)" "$OUT"
nsrun -u 1000 "$IMG" sh -c 'grep -c localhost /etc/hosts; echo x >> /etc/hosts 2>/dev/null || echo refused'
check_eq "-u 1000 reads /etc/hosts and cannot write it" "$(printf '%s\n' 2 refused)" "$OUT"
nsrun "$IMG" sh -c 'grep -c "10.0.0.1" /etc/hosts'
check_eq "a container's /etc/hosts edit does not reach the next container" 0 "$OUT"
check_eq "no per-run /etc files left in the store" "" "$(find "$ROOT/plugins" -mindepth 2 2>/dev/null)"

# ---------------------------------------------------------------- capabilities
nsrun "$IMG" cat /proc/self/status
check_eq "root: CapBnd is Docker's default set" "$DOCKER_CAPS" "$(capline CapBnd)"
check_eq "root: CapEff is Docker's default set" "$DOCKER_CAPS" "$(capline CapEff)"
check_eq "root: CapPrm is Docker's default set" "$DOCKER_CAPS" "$(capline CapPrm)"
check_eq "root: CapInh is empty" 0000000000000000 "$(capline CapInh)"
check_eq "root: CapAmb is empty" 0000000000000000 "$(capline CapAmb)"
nsrun -u 1000 "$IMG" cat /proc/self/status
check_eq "-u 1000: CapEff is empty" 0000000000000000 "$(capline CapEff)"
check_eq "-u 1000: CapPrm is empty" 0000000000000000 "$(capline CapPrm)"
check_eq "-u 1000: CapInh is empty" 0000000000000000 "$(capline CapInh)"
check_eq "-u 1000: CapBnd stays Docker's default set" "$DOCKER_CAPS" "$(capline CapBnd)"
check_eq "-u 1000: runs as uid/gid 1000" "1000 1000" "$(printf '%s\n' "$OUT" | awk '$1 == "Uid:" { u = $2 } $1 == "Gid:" { g = $2 } END { print u, g }')"
nsrun "$IMG" sh -c 'mkdir /tmp/m && busybox mount -t tmpfs none /tmp/m && echo mounted'
check_not_contains "root without CAP_SYS_ADMIN cannot mount" "$OUT" mounted

# ---------------------------------------------------------------- /proc, /sys, masked and read-only paths
nsrun "$IMG" cat /proc/self/mountinfo
mi=$OUT
check_eq "mount points: only /, /proc, /dev, /sys, /etc/hostname and /etc/hosts" "" \
    "$(printf '%s\n' "$mi" | awk '{ print $5 }' | grep -Ev '^/$|^/(proc|dev|sys)(/|$)|^/etc/hosts?(name)?$')"
check_match "/proc is a fresh proc, nosuid,nodev,noexec" "$mi" '^[0-9]+ [0-9]+ [0-9:]+ / /proc rw,nosuid,nodev,noexec[, ].* - proc '
check_match "/sys is sysfs, read-only, nosuid,nodev,noexec" "$mi" ' / /sys ro,nosuid,nodev,noexec[, ].* - sysfs '
check_match "/sys/fs/cgroup is read-only" "$mi" ' /sys/fs/cgroup ro,'
check_match "/proc/sys is read-only" "$mi" ' /proc/sys ro,'
for p in /proc/keys /proc/timer_list /proc/latency_stats /proc/timer_stats /proc/sched_debug /proc/kcore; do
    [ -e "$p" ] || continue
    nsrun "$IMG" sh -c "wc -c < $p"
    check_eq "masked: $p reads as empty" 0 "$OUT"
done
for d in /proc/acpi /proc/asound /proc/scsi /sys/firmware /sys/devices/virtual/powercap; do
    [ -d "$d" ] || continue
    nsrun "$IMG" sh -c "ls -A $d | wc -l; touch $d/x 2>/dev/null && echo writable"
    check_eq "masked: $d is an empty read-only directory" 0 "$OUT"
done
nsrun "$IMG" sh -c 'echo evil > /proc/sys/kernel/hostname && echo written; cat /proc/sys/kernel/hostname'
check_not_contains "/proc/sys is read-only: writing fails" "$OUT" written
nsrun "$IMG" sh -c 'echo 1 > /proc/sysrq-trigger && echo written'
check_not_contains "/proc/sysrq-trigger cannot be written" "$OUT" written
nsrun "$IMG" sh -c 'mkdir /sys/fs/cgroup/x 2>/dev/null && echo made; ls /sys/fs/cgroup | grep -c .'
check_not_contains "/sys/fs/cgroup cannot be written" "$OUT" made
check_line_match "/sys/fs/cgroup holds the host's hierarchies" "$OUT" '^[1-9][0-9]*$'

# ---------------------------------------------------------------- /dev
nsrun "$IMG" ls -A /dev
want="fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero"
[ -e /proc/kcore ] && want="core $want"
check_eq "/dev: the standard nodes and links only" "$want" "$(printf '%s\n' "$OUT" | sort | paste -sd' ')"
nsrun "$IMG" sh -c 'echo x > /dev/null && head -c 5 /dev/zero | wc -c && head -c 7 /dev/urandom | wc -c'
check_eq "/dev/null, /dev/zero, /dev/urandom work" "$(printf '%s\n' 5 7)" "$OUT"
nsrun "$IMG" sh -c 'for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done; stat -c %a /dev/shm /dev'
check_eq "/dev links and modes" "$(printf '%s\n' pts/ptmx /proc/self/fd /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2 1777 755)" "$OUT"
check_match "/dev is a nosuid tmpfs" "$mi" ' /dev rw,nosuid( |,.* )- tmpfs .*mode=755'
check_match "/dev/pts: a new devpts instance, gid 5, mode 620, ptmxmode 666" "$mi" ' /dev/pts rw,nosuid,noexec[, ].* - devpts .*gid=5,mode=620,ptmxmode=666'
check_match "/dev/shm: tmpfs nosuid,nodev,noexec" "$mi" ' /dev/shm rw,nosuid,nodev,noexec[, ].* - tmpfs '
check_match "/dev/mqueue: mqueue" "$mi" ' /dev/mqueue rw,nosuid,nodev,noexec[, ].* - mqueue '

# ---------------------------------------------------------------- network: loopback only, up
nsrun "$IMG" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ls /sys/class/net; cat /sys/class/net/lo/flags'
check_eq "network: only lo, and it is up (flags 0x9)" "$(printf '%s\n' lo lo 0x9)" "$OUT"

# ---------------------------------------------------------------- file descriptors
nsrun "$IMG" ls /proc/self/fd 7</ 8<"$BB/index.json" 9>"$TMPD/fd9"
check_eq "no fd of the engine reaches the container (0 1 2, and ls's own)" "$(printf '%s\n' 0 1 2 3)" "$OUT"
# an engine started with stdin closed: the container gets /dev/null there,
# never one of the engine's descriptors that took the free slot
timeout -k 5 "$STRATA_TEST_TIMEOUT" "$STRATA" --root "$ROOT" --isolation namespaces run --rm "$IMG" \
    sh -c 'readlink /proc/self/fd/0; ls /proc/self/fd' <&- >"$TMPD/out" 2>&1
check_eq "stdin closed by the caller: /dev/null in the container, no other fd" \
    "$(printf '%s\n' /dev/null 0 1 2 3)" "$(cat "$TMPD/out")"
host_root=$(ls -A / | sort | paste -sd' ')
ctr_root="bin data dev etc hello.txt home proc sys tmp"
for w in /proc/self/fd/7 /proc/self/fd/3 /proc/1/fd/7 /proc/self/cwd/../../../proc/self/fd/8; do
    nsrun -w "$w" "$IMG" sh -c 'ls -A . | sort | paste -sd" "' 7</ 8</
    if [ "$RC" = 0 ]; then
        check_eq "-w $w: the working directory is inside the container" "$ctr_root" "$OUT"
    else
        check_error "-w $w: refused with one error line (125)" 125 "working directory"
    fi
    check_not_contains "-w $w: no view of the host's root" "$OUT" "$host_root"
done

# ---------------------------------------------------------------- exit codes, signals
nsrun "$IMG" true
check_rc "exit code 0" 0
nsrun "$IMG" sh -c 'exit 3'
check_rc "exit code 3" 3
nsrun "$IMG" /nonexistent
check_error "a missing command exits 127" 127 "/nonexistent"
nsrun "$IMG" nosuchcommand
check_error "a command not on the container's PATH exits 127" 127 "executable file not found"
nsrun "$IMG" /etc/passwd
check_error "a file that cannot be executed exits 126" 126 "/etc/passwd"
nsrun "$IMG" sh -c 'kill -TERM $$; echo survived'
check_eq "PID 1 without a handler ignores its own SIGTERM (as under Docker)" survived "$OUT"
st --isolation namespaces run --rm "$IMG" sleep 30 >/dev/null 2>&1 & bg=$!
cpid=$(container_pid "$bg" sleep)
[ -n "$cpid" ] && kill -KILL "$cpid"
wait "$bg"
check_eq "PID 1 killed by SIGKILL from the host: 128+9" 137 $?
st --isolation namespaces run --rm "$IMG" sh -c 'trap "exit 42" TERM; touch /tmp/ready; while :; do sleep 0.1; done' >/dev/null 2>&1 & bg=$!
cpid=$(container_pid "$bg" sh)
spid=$(awk '$1 == "PPid:" { print $2 }' "/proc/${cpid:-0}/status" 2>/dev/null)
sleep 0.3
[ -n "$spid" ] && kill -TERM "$spid"
wait "$bg"
check_eq "SIGTERM to strata reaches PID 1 (its trap exits 42)" 42 $?

# ---------------------------------------------------------------- user, env, working directory
nsrun -u user "$IMG" sh -c 'id -u; id -g; echo $HOME'
check_eq "-u user: uid, gid, HOME from the image" "$(printf '%s\n' 1000 1000 /home/user)" "$OUT"
nsrun -u 1000:0 "$IMG" id -G
check_eq "-u 1000:0: groups" 0 "$OUT"
nsrun -e FOO=bar -w /data "$IMG" sh -c 'echo $FOO; pwd'
check_eq "-e and -w" "$(printf '%s\n' bar /data)" "$OUT"
nsrun -w /new/dir "$IMG" sh -c pwd
check_eq "-w of a missing directory creates it" /new/dir "$OUT"
nsrun "$IMG" sh -c 'umask; ls /dev/../hello.txt; echo ok > /tmp/f && cat /tmp/f'
check_eq "umask 0022, the image's files, a writable layer" "$(printf '%s\n' 0022 /dev/../hello.txt ok)" "$OUT"

# ---------------------------------------------------------------- resource limits (cgroups)
cgfile() { # CONTROLLER V1-FILE V2-FILE : where the container reads its own limit
    if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then echo "/sys/fs/cgroup/$3"
    elif [ -d "/sys/fs/cgroup/$1" ]; then echo "/sys/fs/cgroup/$1/$2"
    else echo "/sys/fs/cgroup/unified/$3"; fi
}
sx --isolation namespaces run --name t-limits -m 32m --pids-limit 5 --cpus 0.5 "$IMG" sh -c \
    "cat $(cgfile memory memory.limit_in_bytes memory.max) $(cgfile pids pids.max pids.max); cat $(cgfile cpu cpu.cfs_quota_us cpu.max) | cut -d' ' -f1"
check_eq "--memory 32m, --pids-limit 5, --cpus 0.5 reach the container's cgroups" \
    "$(printf '%s\n' 33554432 5 50000)" "$OUT"
sx inspect t-limits
check_eq "inspect: HostConfig.Memory, PidsLimit, NanoCpus" "33554432 5 500000000" \
    "$(printf '%s' "$OUT" | jq -r '.[0].HostConfig | "\(.Memory) \(.PidsLimit) \(.NanoCpus)"' 2>&1)"
lid=$(printf '%s' "$OUT" | jq -r '.[0].Id')
check_eq "the container's cgroups are removed when it ends" "" \
    "$(find /sys/fs/cgroup -maxdepth 8 -type d \( -name "strata-$lid" -o -path "*/strata/$lid" \) 2>/dev/null)"
st rm t-limits >/dev/null
nsrun -m 32m "$IMG" busybox dd if=/dev/zero of=/dev/null bs=128M count=1
check_rc "--memory 32m: allocating 128 MiB gets the process killed (137)" 137
nsrun --pids-limit 4 "$IMG" sh -c 'for i in 1 2 3 4 5 6; do sleep 1 & done; wait; echo done'
check_contains "--pids-limit 4: the sixth fork fails" "$ERR" "can't fork"
nsrun -m 64m "$IMG" sh -c 'cat /proc/self/cgroup | cut -d: -f3 | sort -u'
check_eq "with limits the cgroup namespace still roots at the container's cgroup" / "$OUT"
check_fail "--memory below 6 MiB is refused" 125 "Minimum memory limit" -- run --rm -m 1m "$IMG" true
check_fail "chroot refuses limits it cannot enforce (125)" 125 "cannot enforce" -- \
    --isolation chroot run --rm -m 32m "$IMG" true
check_eq "--rm: a container that could not start is removed" 0 "$(nctr)"

# ---------------------------------------------------------------- images with /proc, /sys or /dev as a symlink
BAD=$TMPD/bad
cp -a "$BB" "$BAD"
for d in proc sys dev; do
    mkdir -p "$TMPD/l-$d"
    ln -s / "$TMPD/l-$d/$d"
    tar -C "$TMPD/l-$d" --numeric-owner -cf "$TMPD/l-$d.tar" "$d"
    umoci raw add-layer --image "$BAD:1" --tag "$d-link" "$TMPD/l-$d.tar" >/dev/null 2>&1 ||
        die "umoci raw add-layer failed for $d"
    sx pull "oci:$BAD:$d-link"
    check_rc "pull an image whose /$d is a symlink to /" 0
    nsrun "localhost/bad:$d-link" true
    check_error "an image whose /$d is a symlink is refused (125)" 125 "/$d is a symbolic link"
done
mkdir -p "$TMPD/l-hosts/etc/hosts"
tar -C "$TMPD/l-hosts" --numeric-owner -cf "$TMPD/l-hosts.tar" etc
umoci raw add-layer --image "$BAD:1" --tag hosts-dir "$TMPD/l-hosts.tar" >/dev/null 2>&1 ||
    die "umoci raw add-layer failed for etc/hosts"
sx pull "oci:$BAD:hosts-dir"
nsrun "localhost/bad:hosts-dir" true
check_error "an image whose /etc/hosts is a directory is refused (125)" 125 "/etc/hosts" "Is a directory"
check_eq "no mount of the containers is left in the host's mount table" "" "$(grep -F "$TMPD" /proc/self/mountinfo)"
check_eq "--rm leaves no container" 0 "$(nctr)"
finish
