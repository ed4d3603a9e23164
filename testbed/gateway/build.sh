#!/usr/bin/env bash
# Builds the MCP Gateway's own programs from the repository of checkout.sh at a tag, with the Go
# module proxy: cmd/mcp-broker-router (the broker and router; at guide-fd2e9da also the controller,
# with --controller) and, where the tag has it, the controller of ./cmd (kuadrant-v0.9.0).
# Cached outside the repo by the tag's commit: a warm run starts no go command.
#
#   eval "$(bash testbed/gateway/build.sh guide-fd2e9da)"
#   # export MCP_BROKER_ROUTER=<path>; export MCP_CONTROLLER=<path> (the same binary at guide-fd2e9da)
#
# Tags: guide-fd2e9da (kagenti, mcp.kagenti.com) and kuadrant-v0.9.0 (mcp.kuadrant.io; go 1.26 in
# its go.mod). stdout: the export lines; everything else goes to stderr.
set -euo pipefail

TAG=${1:?usage: build.sh TAG   (guide-fd2e9da or kuadrant-v0.9.0)}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/gateway
log() { echo "gateway-build: $*" >&2; }
# shellcheck source=../progress.sh
. "$ROOT/testbed/progress.sh"
PROGRESS_PREFIX=gateway-build

REPO=$(bash "$ROOT/testbed/gateway/checkout.sh")
COMMIT=$(git -C "$REPO" rev-parse "$TAG^{commit}")
DIR=$CACHE/bin-${COMMIT:0:12}
if [[ -x $DIR/mcp-broker-router && -f $DIR/done ]]; then
	log "cached ($TAG): $DIR"
else
	command -v go >/dev/null || { log "ERROR: go not found on PATH (the go line of $TAG's go.mod says which)"; exit 1; }
	export GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN=${GOTOOLCHAIN:-local}
	src=$CACHE/src-${COMMIT:0:12}
	logf=$CACHE/logs/build-${COMMIT:0:12}.log
	mkdir -p "$CACHE/logs" "$DIR"
	rm -rf "$src" "$DIR"/* && mkdir -p "$src"
	git -C "$REPO" archive "$COMMIT" | tar -x -C "$src"
	# ./cmd is a main package (the controller) only in the Kuadrant tree.
	pkgs=(./cmd/mcp-broker-router)
	[[ -f $src/cmd/main.go ]] && pkgs+=(./cmd)
	why="first run on this machine"
	[[ ! -f $CACHE/build-$TAG.seconds ]] || why="the tag's commit changed since the cached build"
	# About 2.7 min cold on 2 cores for either tag (README.md, "Continuous integration").
	progress_start "building the MCP Gateway's ${pkgs[*]} at $TAG" \
		"from the Go module proxy (go $(sed -n 's/^go //p' "$src/go.mod")), for the gateway tests; $why; log: $logf" \
		"$CACHE/build-$TAG.seconds" 160
	for pkg in "${pkgs[@]}"; do
		out=$DIR/$([[ $pkg == ./cmd ]] && echo mcp-controller || echo mcp-broker-router)
		if ! (cd "$src" && go build -ldflags "-s -w" -o "$out" "$pkg") >>"$logf" 2>&1; then
			progress_stop
			tail -n 25 "$logf" >&2
			log "ERROR: go build $pkg failed at $TAG (full log: $logf); a 'requires go >=' line means a newer Go"
			exit 1
		fi
	done
	progress_done
	touch "$DIR/done"
	rm -rf "$src"
fi
echo "export MCP_BROKER_ROUTER=$DIR/mcp-broker-router"
if [[ -x $DIR/mcp-controller ]]; then
	echo "export MCP_CONTROLLER=$DIR/mcp-controller"
else
	echo "export MCP_CONTROLLER=$DIR/mcp-broker-router"
fi
