#!/bin/bash
# format.sh - --format on ps, images, history and inspect: Go templates,
# "table", "json", Docker's field names, and template errors (exit 125).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_root
need_fixtures
setup_store

IMG=localhost/busybox:1
sx pull "oci:$FIXTURES/busybox:1"
check_rc "pull" 0 || { show_last; finish; }
CONFIG=$(fx_config "$FIXTURES/busybox" 1)
ID=${CONFIG#sha256:}; ID=${ID:0:12}
sx run --name f1 "$IMG" sh -c 'exit 4'
cid=$(st ps -a -q --no-trunc)

sx ps -a --format '{{.ID}} {{.Names}} {{.Image}} {{.State}}'
check_eq "ps --format fields" "${cid:0:12} f1 $IMG exited" "$OUT"
sx ps -a --format '{{.Label "org.example.fixture"}}'
check_eq "ps --format {{.Label \"k\"}}" busybox "$OUT"
sx ps -a --format 'table {{.Names}}\t{{.Status}}'
check_match "ps table header from the field names" "$OUT" '^NAMES     STATUS$'
check_match "ps table row" "$OUT" '^f1        Exited \(4\) '
sx ps -a --format json
check_eq "ps --format json is JSON with Docker's names" f1 "$(printf '%s' "$OUT" | jq -r .Names)"
sx ps -a --format '{{.Nope}}'
check_error "ps: unknown field exits 125" 125 "can't evaluate field Nope"
sx ps -a --format '{{.ID'
check_error "ps: syntax error exits 125 with the position" 125 "template: :1:"
sx ps -a --format table
# Column widths follow the rows' contents, and "N seconds ago" can grow
# between the two calls on a slow machine: compare the column names.
check_eq "ps --format table is the default table" \
    "$(st ps -a | head -1 | tr -s ' ')" "$(printf '%s\n' "$OUT" | head -1 | tr -s ' ')"

sx images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
check_eq "images --format" "localhost/busybox:1 $ID" "$OUT"
sx images --format 'table {{.ID}}\t{{.Size}}'
check_match "images table header" "$OUT" '^IMAGE ID       SIZE$'
sx history --format '{{.ID}}|{{.Size}}' "$IMG"
check_eq "history --format: top row has the ID" "$ID|0B" "$(printf '%s\n' "$OUT" | head -1)"
check_eq "history --format: 5 rows" 5 "$(printf '%s\n' "$OUT" | grep -c .)"
sx history -H=false --format '{{.CreatedSince}}' "$IMG"
check_eq "history -H=false: CreatedSince is RFC 3339" 2024-01-01T00:00:00Z "$(printf '%s\n' "$OUT" | sort -u)"

sx inspect --format '{{.State.ExitCode}} {{.Name}} {{json .Config.Cmd}}' f1
check_eq "inspect --format over a container" '4 /f1 ["sh","-c","exit 4"]' "$OUT"
sx inspect -f '{{.Os}}/{{.Architecture}} {{index .RepoTags 0}} {{.Nope}}' "$IMG"
check_eq "inspect -f over an image; a missing key is <no value>" "linux/amd64 $IMG <no value>" "$OUT"
sx inspect -f '{{range .Config.Env}}{{.}};{{end}}' "$IMG"
check_contains "inspect -f range" "$OUT" "PATH=/usr/local/sbin"
sx inspect -f '{{.Os' "$IMG"
check_error "inspect: template error exits 125" 125 "template:"
# info and version: one document each, Docker's field names
sx info --format '{{.Containers}} {{.ContainersStopped}} {{.Images}} {{.Driver}} {{.OSType}}'
check_eq "info --format: Docker's counters" "1 1 1 $(st info --format '{{.Driver}}') linux" "$OUT"
check_match "info --format: the store's driver" "$(st info --format '{{.Driver}}')" '^(overlay|btrfs|copy)$'
sx info --format '{{range .Plugins}}{{if eq .Kind "storage"}}{{.Name}} {{end}}{{end}}'
check_contains "info --format: range over the plugins" "$OUT" "copy "
sx info --format json
check_eq "info --format json: NCPU" "$(nproc)" "$(printf '%s' "$OUT" | jq -r .NCPU)"
sx info --format '{{.NCPU'
check_error "info: template error exits 125" 125 "template: :1:"
sx version --format '{{.Client.Version}}'
check_match "version --format {{.Client.Version}}" "$OUT" '^[0-9]+\.[0-9]+\.[0-9]+'
check_eq "version: the engine answers for .Server too" "$OUT" "$(st version --format '{{.Server.Version}}')"
sx version --format json
check_eq "version --format json" linux "$(printf '%s' "$OUT" | jq -r .Client.Os)"
sx version extra
check_error "version: an argument is a usage error" 125 "accepts no arguments"
finish
