#!/usr/bin/env bash
# Restarts the kube-apiserver of testbed/apiserver/start.sh in place, for fault-injection tests
# ("the API server restarted"): TERM, wait until it is gone (KILL after 10 s), then the same command
# line again ($DIR/kube-apiserver.sh: same port, certs, tokens, OIDC flags, etcd). etcd keeps
# running, so every object survives; so does the kube-controller-manager, whose informers reconnect
# as a real cluster's would. Returns when /readyz answers again.
#
#   testbed/apiserver/restart.sh [DIR]   # DIR: APISERVER_DIR; default: the last started
#
# New pid in $DIR/kube-apiserver.pid and the APISERVER_PID line of $DIR/env; stop.sh works as before.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/apiserver
D=${1:-${APISERVER_DIR:-$(cat "$OUT/current" 2>/dev/null || true)}}
D=${D%/}
TIMEOUT=${MCP_APISERVER_START_TIMEOUT:-30}
T0=$(date +%s.%N)
log() { echo "apiserver-restart: $*" >&2; }
die() {
	log "ERROR: $*"
	[[ -f $D/kube-apiserver.log ]] && { log "--- tail of $D/kube-apiserver.log"; tail -n 15 "$D/kube-apiserver.log" >&2; }
	exit 1
}
[[ $(basename "$D") == mcp-apiserver.* && -f $D/env ]] || die "${D:-no dir}: not an apiserver of start.sh"
[[ -x $D/kube-apiserver.sh ]] || die "$D has no kube-apiserver.sh (started by an older start.sh?)"
var() { sed -n "s/^$1=//p" "$D/env"; }
URL=$(var APISERVER_URL) CA=$(var APISERVER_CA) TOKEN=$(var APISERVER_TOKEN)

old=$(cat "$D/kube-apiserver.pid" 2>/dev/null || true)
"$HERE/stop.sh" --only kube-apiserver "$D" # TERM, waits until gone (KILL after 10 s)

setsid "$D/kube-apiserver.sh" & # as start.sh: $! is the server's pid
pid=$!
echo "$pid" >"$D/kube-apiserver.pid"
sed -i "s/^APISERVER_PID=.*/APISERVER_PID=$pid/" "$D/env"

deadline=$(($(date +%s) + TIMEOUT))
until curl -fsS -m 2 --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$URL/readyz" >/dev/null 2>&1; do
	kill -0 "$pid" 2>/dev/null || die "kube-apiserver exited"
	(($(date +%s) < deadline)) || die "kube-apiserver not ready after ${TIMEOUT}s ($URL/readyz)"
	sleep 0.2
done
log "kube-apiserver restarted at $URL (pid $old -> $pid) in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $T0 }")s"
