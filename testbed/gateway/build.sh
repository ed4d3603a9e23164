#!/usr/bin/env bash
# Builds the MCP Gateway's own program (cmd/mcp-broker-router: the controller with -controller, else
# the broker and router) from the repository of checkout.sh at a tag, with the Go module proxy.
# Cached outside the repo by the tag's commit: a warm run starts no go command.
#
#   eval "$(bash testbed/gateway/build.sh guide-fd2e9da)"   # export MCP_BROKER_ROUTER=<path>
#
# Tags: guide-fd2e9da (kagenti, mcp.kagenti.com) and kuadrant-v0.9.0 (mcp.kuadrant.io; go 1.26 in
# its go.mod). stdout: the export line; everything else goes to stderr.
set -euo pipefail

TAG=${1:?usage: build.sh TAG   (guide-fd2e9da or kuadrant-v0.9.0)}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/gateway
log() { echo "gateway-build: $*" >&2; }

REPO=$(bash "$ROOT/testbed/gateway/checkout.sh")
COMMIT=$(git -C "$REPO" rev-parse "$TAG^{commit}")
BIN=$CACHE/bin-${COMMIT:0:12}/mcp-broker-router
if [[ -x $BIN ]]; then
	log "cached ($TAG): $BIN"
else
	command -v go >/dev/null || { log "ERROR: go not found on PATH (the go line of $TAG's go.mod says which)"; exit 1; }
	export GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN=${GOTOOLCHAIN:-local}
	src=$CACHE/src-${COMMIT:0:12}
	logf=$CACHE/logs/build-${COMMIT:0:12}.log
	mkdir -p "$CACHE/logs" "$(dirname "$BIN")"
	rm -rf "$src" && mkdir -p "$src"
	git -C "$REPO" archive "$COMMIT" | tar -x -C "$src"
	log "building cmd/mcp-broker-router at $TAG (go $(sed -n 's/^go //p' "$src/go.mod"); log: $logf; cold: a few minutes on 2 cores)"
	t=$(date +%s)
	if ! (cd "$src" && go build -ldflags "-s -w" -o "$BIN.tmp.$$" ./cmd/mcp-broker-router) >"$logf" 2>&1; then
		rm -f "$BIN.tmp.$$"
		tail -n 25 "$logf" >&2
		log "ERROR: go build failed at $TAG (full log: $logf); a 'requires go >=' line means a newer Go"
		exit 1
	fi
	mv "$BIN.tmp.$$" "$BIN"
	rm -rf "$src"
	log "built in $(($(date +%s) - t))s: $BIN"
fi
echo "export MCP_BROKER_ROUTER=$BIN"
