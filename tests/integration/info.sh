#!/bin/bash
# info.sh - `strata info` lists the plugins it found: kind, name, version,
# ABI, file and probe result; a broken file in the plugin path is refused
# with a warning, not fatal.
. "$(dirname "$0")/lib.sh"
setup_store

sx info
check_rc "info" 0
[ "$RC" = 0 ] || show_last
# one line per plugin: the line naming the kind and the plugin
pl() { printf '%s\n' "$OUT" | grep -E "(^|[^a-z])$1([^a-z]|$)" | grep -E "(^|[^a-z-])$2([^a-z]|$)" | head -1; }
for kp in storage:copy transport:oci isolation:chroot; do
    k=${kp%:*} p=${kp#*:}
    line=$(pl "$k" "$p")
    check_line_match "info: lists the $k plugin $p" "$line" .
    check_contains "info: $k $p: its file" "$line" "$k-$p.so"
    check_match "info: $k $p: its ABI 1.x" "$line" '(^|[^0-9.])1\.[0-9]+([^0-9.]|$)'
    check_match "info: $k $p: a version" "$line" '[0-9]+\.[0-9]+'
    check_match "info: $k $p: its probe passed" "$line" '(^|[^a-z])(ok|OK|yes|usable|available)([^a-z]|$)'
done
check_match "info: chroot says it does not isolate" "$OUT" \
    '([Nn]ot|[Nn]o|n'"'"'t|[Dd]oes not|[Dd]oesn'"'"'t)( [a-z]+)? isolat|[Nn]o isolation|[Nn]ot isolated|isolat[a-z]*: *(no|none|false)'
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
