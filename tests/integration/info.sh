#!/bin/bash
# info.sh - `strata info` lists the plugins it found: kind, name, version,
# ABI, file and probe result; a broken file in the plugin path is refused
# with a warning, not fatal.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # (SH_LOG_COMPILER may be sh)
. "$(dirname "$0")/lib.sh"
setup_store

sx info
check_rc "info" 0
[ "$RC" = 0 ] || show_last
# the lines about one plugin: its line ("storage copy ..." in a table, or
# "storage copy:" heading a block) and the lines indented below it
pl() {
    printf '%s\n' "$OUT" | awk -v k="$1" -v n="$2" '
        function indent(s) { match(s, /^[ \t]*/); return RLENGTH }
        on && indent($0) <= ind { exit }
        on { print; next }
        $0 ~ "^[ \t]*" k "[ \t:/]+" n "([^a-z0-9-]|$)" { on = 1; ind = indent($0); print }'
}
for kp in storage:copy transport:oci isolation:chroot; do
    k=${kp%:*} p=${kp#*:}
    line=$(pl "$k" "$p")
    check_match "info: lists the $k plugin $p" "$line" .
    check_contains "info: $k $p: its file" "$line" "$k-$p.so"
    check_match "info: $k $p: its ABI 1.x" "$line" '(^|[^0-9.])1\.[0-9]+([^0-9.]|$)'
    check_match "info: $k $p: a version" "$line" '[0-9]+\.[0-9]+'
    probe=$(printf '%s\n' "$line" | grep -i probe)
    [ -n "$probe" ] || probe=$line      # a table row: the whole line
    check_match "info: $k $p: its probe passed" "$probe" '(^|[^a-z])(ok|OK|yes|usable|available)([^a-z]|$)'
done
if printf '%s\n' "$(pl isolation chroot)" | grep -Eiq \
    "(not|no|n't|never)( [a-z]+)? isolat|isolat[a-z]*: *(no|none|false)"; then
    ok "info: chroot says it does not isolate"
else
    not_ok "info: chroot says it does not isolate"; pl isolation chroot | sed 's/^/#     /'
fi
check_eq "info: nothing on stderr" "" "$ERR"

# a file that is not a plugin, first in the path: refused with a warning
mkdir -p "$TMPD/bogus"
echo "not an ELF object" > "$TMPD/bogus/storage-bogus.so"
STRATA_PLUGIN_PATH="$TMPD/bogus${STRATA_PLUGIN_PATH:+:$STRATA_PLUGIN_PATH}" sx info
check_rc "info with a bogus .so in the plugin path" 0
check_contains "info: the bogus file is reported" "$OUT$ERR" storage-bogus.so
line=$(pl isolation chroot)
check_contains "info: the real plugins still load" "$line" isolation-chroot.so

finish
