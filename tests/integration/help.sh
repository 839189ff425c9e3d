#!/bin/bash
# help.sh - every command and every management verb that `strata --help`
# lists answers --help with its usage on stdout (exit 0), and a bad option
# with a Docker-style usage error (exit 125) that points at --help.  The
# lists come from the binary itself, so a new command is checked the day it
# is added.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
setup_store

sx --help
check_rc "strata --help" 0
commands=$(printf '%s\n' "$OUT" | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
groups=$(printf '%s\n' "$OUT" | sed -n '/^Management commands/,/^$/p' | awk 'NF > 1 && !/^Management/ { print $1 }')
check_match "--help lists commands" "$commands" '^run$'
check_match "--help lists management commands" "$groups" '^image$'

usage_ok() { # DESC WORDS... : WORDS --help prints "Usage:  strata WORDS"
    local desc=$1
    shift
    sx "$@" --help
    if [ "$RC" = 0 ] && [ -z "$ERR" ] && printf '%s\n' "$OUT" | head -1 | grep -q '^Usage:  strata '; then
        ok "$desc --help"
    else
        not_ok "$desc --help (rc $RC)"; show_last
    fi
    sx "$@" --no-such-option
    check_error "$desc: an unknown option is a usage error" 125 "See 'strata"
}

n=0
for c in $commands; do
    usage_ok "$c" "$c"
    n=$((n + 1))
done
for g in $groups; do
    sx "$g" --help
    check_rc "$g --help" 0
    verbs=$(printf '%s\n' "$OUT" | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
    check_match "$g --help lists its verbs" "$verbs" .
    for v in $verbs; do
        usage_ok "$g $v" "$g" "$v"
        n=$((n + 1))
    done
    sx "$g" no-such-verb
    check_error "$g no-such-verb" 125 "is not a strata command"
done
check_match "more than 20 command names checked" "$n" '^(2[1-9]|[3-9][0-9]|[1-9][0-9][0-9])$'
sx no-such-command
check_error "an unknown command" 125 "is not a strata command"
finish
