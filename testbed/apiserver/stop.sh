#!/usr/bin/env bash
# Stops the kube-controller-manager, kube-apiserver and etcd of testbed/apiserver/start.sh and
# removes their temp dir.
#   testbed/apiserver/stop.sh [DIR]   # DIR: APISERVER_DIR printed by start.sh; default: the last started
#   testbed/apiserver/stop.sh --only kube-apiserver [DIR]   # that process only, dir kept (restart.sh)
set -euo pipefail

OUT=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/apiserver
ONLY=
if [[ ${1:-} == --only ]]; then
	ONLY=${2:-}
	[[ $ONLY =~ ^(kube-apiserver|etcd|kube-controller-manager)$ ]] ||
		{ echo "apiserver-stop: ERROR: --only kube-apiserver|etcd|kube-controller-manager, not '$ONLY'" >&2; exit 1; }
	shift 2
fi
D=${1:-${APISERVER_DIR:-$(cat "$OUT/current" 2>/dev/null || true)}}
[[ -n $D ]] || { echo "apiserver-stop: nothing to stop (no DIR given, no $OUT/current)" >&2; exit 0; }
# Refuse to delete anything start.sh did not make.
[[ $(basename "$D") == mcp-apiserver.* ]] || { echo "apiserver-stop: ERROR: $D is not a start.sh dir" >&2; exit 1; }

# running PID: it exists and is no zombie (exited, not yet reaped: its port is free already).
running() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1 # "pid (comm) state ..."
	st=${st##*) }
	[[ $st != Z* ]]
}
# stop NAME: TERM, up to 10 s to exit, then KILL; returns once it is gone (restart.sh starts it
# again on the same port). Only a process whose command line names $D (its data or cert dir), so a
# pid reused by another process is left alone.
stop() {
	local pid
	pid=$(cat "$D/$1.pid" 2>/dev/null) || return 0
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$D/" || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do running "$pid" || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 50); do running "$pid" || return 0; sleep 0.1; done
}
if [[ -n $ONLY ]]; then
	stop "$ONLY"
	exit 0
fi
stop kube-controller-manager # first: it would log connection errors without its apiserver
stop kube-apiserver          # before etcd, so it does not log etcd errors while shutting down
stop etcd
rm -rf "$D"
[[ $(cat "$OUT/current" 2>/dev/null) != "$D" ]] || rm -f "$OUT/current"
echo "apiserver-stop: stopped and removed $D" >&2
