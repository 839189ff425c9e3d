#!/bin/sh
# Re-checks tests/unit/template-cases.json against Go's own text/template
# with Docker's functions (tests/unit/template-gocheck/main.go), so the
# expectations test_template holds strata to stay what Docker prints.
# Skipped (77) where no Go toolchain is installed.
srcdir=${srcdir:-.}
command -v go >/dev/null 2>&1 || { echo "SKIP: no go toolchain"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
# GOPATH mode, the local toolchain, a private cache: nothing is fetched
GO111MODULE=off GOTOOLCHAIN=local GOCACHE="$tmp/cache" GOPATH="$tmp/gopath" \
	go run "$srcdir/tests/unit/template-gocheck/main.go" "$srcdir/tests/unit/template-cases.json"
