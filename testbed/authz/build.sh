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

if [[ -x $BIN ]]; then
	log "cached: $BIN"
else
	command -v go >/dev/null || { log "ERROR: go not found on PATH (Go >= the go line of $DIR/go.mod)"; exit 1; }
	export GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN=${GOTOOLCHAIN:-local}
	mkdir -p "$OUT/logs" "$(dirname "$BIN")"
	logf=$OUT/logs/build-$KEY.log
	log "building $BIN (log: $logf; cold: about a minute or two on 2 cores)"
	t=$(date +%s)
	if ! (cd "$DIR" && go build -ldflags "-s -w" -o "$BIN.tmp.$$" .) >"$logf" 2>&1; then
		rm -f "$BIN.tmp.$$"
		tail -n 25 "$logf" >&2
		log "ERROR: go build failed in $DIR (full log: $logf)"
		exit 1
	fi
	mv "$BIN.tmp.$$" "$BIN"
	log "built in $(($(date +%s) - t))s"
fi
echo "export AUTHZ_EVAL=$BIN"
