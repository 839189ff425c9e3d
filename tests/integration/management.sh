#!/bin/bash
# management.sh - Docker's management commands ("image ls", "container rm",
# ...) are the same code as the plain verbs: same output, same errors.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store

IMG=localhost/busybox:1
sx image pull "oci:$FIXTURES/busybox:1"
check_rc "image pull" 0 || { show_last; finish; }

# Tables are compared as the same table but for the clock moving between
# the two calls: the times, and so the column widths, may differ.
when() {
    sed -E 's/(Less than a second|About an? (minute|hour)|[0-9]+ (second|minute|hour|day|week|month|year)s?) ago/T/g' |
        tr -s ' '
}

sx images; plain=$(printf '%s\n' "$OUT" | when)
sx image ls; check_eq "image ls prints what images prints" "$plain" "$(printf '%s\n' "$OUT" | when)"
sx image list -q; check_eq "image list -q is images -q" "$(st images -q)" "$OUT"
sx image history "$IMG"
check_eq "image history is history" "$(st history "$IMG" | when)" "$(printf '%s\n' "$OUT" | when)"
sx image inspect "$IMG"
check_eq "image inspect gives the image" "$(st inspect "$IMG" | jq -r '.[0].Id')" "$(printf '%s' "$OUT" | jq -r '.[0].Id')"

sx container create --name m1 "$IMG"
check_rc "container create" 0
cid=$OUT
sx container ls -a -q; check_eq "container ls -a -q lists it" "${cid:0:12}" "$OUT"
sx container list -a
check_eq "container list -a is ps -a" "$(st ps -a | when)" "$(printf '%s\n' "$OUT" | when)"
sx container start -a m1; check_eq "container start -a runs it" "hello from layer 2" "$OUT"
sx container inspect m1; check_eq "container inspect" "$cid" "$(printf '%s' "$OUT" | jq -r '.[0].Id')"
check_fail "container inspect of an image fails" 1 "No such object" -- container inspect "$IMG"
check_fail "image inspect of a container fails" 1 "No such object" -- image inspect m1
sx container rm m1; check_eq "container rm prints the name" m1 "$OUT"

sx image tag "$IMG" localhost/other:2
check_rc "image tag" 0
sx image rm localhost/other:2
check_eq "image rm only untags while another tag remains" "Untagged: localhost/other:2" "$OUT"
check_fail "an unknown management verb exits 125" 125 "'image frobnicate' is not a strata command" -- image frobnicate
sx system info
check_contains "system info is info" "$OUT" "storage copy:"
finish
