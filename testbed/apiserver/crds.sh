#!/usr/bin/env bash
# Installs the CRDs, namespaces and the mcp-gateway Gateway into the apiserver of start.sh (see crds.mjs),
# then restarts its kube-controller-manager (controllers.sh) so the garbage collector watches the new kinds.
#   testbed/apiserver/crds.sh [--check] [DIR]   # DIR: APISERVER_DIR from start.sh; default: the last started
# --check also verifies that server-side apply adds and removes a listener by name.
set -euo pipefail
OUT=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/apiserver
args=() D=${APISERVER_DIR:-}
for a in "$@"; do [[ $a == --* ]] && args+=("$a") || D=$a; done
D=${D:-$(cat "$OUT/current" 2>/dev/null || true)}
[[ -f $D/env ]] || { echo "apiserver-crds: ERROR: no running apiserver (${D:-none}): run testbed/apiserver/start.sh first" >&2; exit 1; }
command -v go >/dev/null || { echo "apiserver-crds: ERROR: go not found: the CRDs are read from their Go modules" >&2; exit 1; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
node "$HERE/crds.mjs" "$D/env" "${args[@]}"
# The garbage collector would notice the new kinds only at its next 30 s discovery: restart it.
[[ ! -f $D/kube-controller-manager.pid ]] || "$HERE/controllers.sh" "$D"
