#!/usr/bin/env bash
# Builds authz-eval (testbed/authz/main.go): Authorino's CEL (cel-go) and inline Rego (OPA), at the
# versions Authorino pins, for the end-to-end tests. Cached outside the repo, keyed by a hash of
# go.mod, go.sum and main.go: a warm run starts no go command.
#
#   eval "$(bash testbed/authz/build.sh)"   # or: npm run authz
#   echo '{"cel": {...}, "rego": "...", "regoVersion": "v0", "input": {...}}' | "$AUTHZ_EVAL"
#
# stdout: `export AUTHZ_EVAL=<path>`; everything else goes to stderr.
set -euo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/authz
KEY=$(cat "$DIR/go.mod" "$DIR/go.sum" "$DIR/main.go" | sha256sum | cut -c1-16)
BIN=$OUT/bin-$KEY/authz-eval
log() { echo "authz-build: $*" >&2; }
# shellcheck source=../progress.sh
. "$DIR/../progress.sh"
PROGRESS_PREFIX=authz-build

if [[ -x $BIN ]]; then
	log "cached: $BIN"
else
	command -v go >/dev/null || { log "ERROR: go not found on PATH (Go >= the go line of $DIR/go.mod)"; exit 1; }
	export GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN=${GOTOOLCHAIN:-local}
	mkdir -p "$OUT/logs" "$(dirname "$BIN")"
	logf=$OUT/logs/build-$KEY.log
	why="first run on this machine"
	compgen -G "$OUT/bin-*/authz-eval" >/dev/null && why="its go.mod, go.sum or main.go changed since the cached build"
	: >"$logf"
	# 66 s measured cold on 2 cores (testbed/authz/README.md), about 218 MB of modules downloaded.
	if ! (cd "$DIR" && progress_run "building authz-eval" "Authorino's CEL and Rego for the auth-chain tests, from the Go module proxy; $why; log: $logf" \
		"$OUT/build.seconds" 66 "$logf" go build -ldflags "-s -w" -o "$BIN.tmp.$$" .); then
		rm -f "$BIN.tmp.$$"
		tail -n 25 "$logf" >&2
		log "ERROR: go build failed in $DIR (full log: $logf)"
		exit 1
	fi
	mv "$BIN.tmp.$$" "$BIN"
fi
echo "export AUTHZ_EVAL=$BIN"
