#!/usr/bin/env bash
# (Re)starts the kube-controller-manager of an apiserver of testbed/apiserver/start.sh, which runs
# it; crds.sh runs it again after installing CRDs. The garbage collector rediscovers API resources
# only every 30 s (fixed in v1.35), so a custom resource of a CRD added after its start would keep
# the foregroundDeletion finalizer of a Foreground delete for up to 30 s; a restart takes ~1 s.
#
#   testbed/apiserver/controllers.sh [DIR]   # DIR: APISERVER_DIR; default: the last started
#
# Controllers: $DIR/controllers (written by start.sh from MCP_APISERVER_CONTROLLERS). New pid in
# $DIR/kube-controller-manager.pid and the KUBE_CONTROLLER_MANAGER_PID line of $DIR/env.
set -euo pipefail

OUT=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/apiserver
D=${1:-${APISERVER_DIR:-$(cat "$OUT/current" 2>/dev/null || true)}}
TIMEOUT=${MCP_APISERVER_START_TIMEOUT:-30}
log() { echo "apiserver-controllers: $*" >&2; }
die() {
	log "ERROR: $*"
	[[ -f $D/kube-controller-manager.log ]] && { log "--- tail of $D/kube-controller-manager.log"; tail -n 15 "$D/kube-controller-manager.log" >&2; }
	exit 1
}
[[ $(basename "$D") == mcp-apiserver.* && -f $D/kubeconfig && -f $D/controllers ]] ||
	die "${D:-no dir}: not a running apiserver of start.sh (run testbed/apiserver/start.sh first)"
CONTROLLERS=$(cat "$D/controllers")
# shellcheck source=/dev/null
[[ -f $OUT/env.sh ]] && . "$OUT/env.sh"
[[ -x ${KUBE_CONTROLLER_MANAGER_BIN:-} ]] || die "no kube-controller-manager binary: run testbed/apiserver/build.sh"

# The one running now, if any: TERM, then KILL after 10 s; only if its command line names $D.
if pid=$(cat "$D/kube-controller-manager.pid" 2>/dev/null) &&
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$D/" && kill "$pid" 2>/dev/null; then
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
fi

# As admin (system:masters: the garbage collector deletes any kind). No serving port (nothing
# scrapes it), no leader election (one instance), no service-account key (only the token
# controller, not run here, needs one). setsid: it outlives the calling script.
setsid "$KUBE_CONTROLLER_MANAGER_BIN" --kubeconfig "$D/kubeconfig" --controllers "$CONTROLLERS" \
	--leader-elect=false --use-service-account-credentials=false \
	--bind-address 127.0.0.1 --secure-port 0 --profiling=false \
	</dev/null >>"$D/kube-controller-manager.log" 2>&1 &
pid=$!
echo "$pid" >"$D/kube-controller-manager.pid"
[[ ! -f $D/env ]] || sed -i "s/^KUBE_CONTROLLER_MANAGER_PID=.*/KUBE_CONTROLLER_MANAGER_PID=$pid/" "$D/env"

# Ready when the garbage collector has synced its informers (deletions made before are processed
# then); other controllers: when still running after a second.
deadline=$(($(date +%s) + TIMEOUT))
if [[ ,$CONTROLLERS, == *,garbage-collector-controller,* || ,$CONTROLLERS, == *,garbagecollector,* ]]; then
	# klog header: I<mmdd> <time> <pid> <file:line>] (the log keeps earlier runs: match this pid).
	until grep -qE "^I[0-9]{4} [0-9:.]+ +$pid garbagecollector\.go:[0-9]+\] \"Proceeding to collect garbage\"" "$D/kube-controller-manager.log"; do
		kill -0 "$pid" 2>/dev/null || die "kube-controller-manager exited"
		(($(date +%s) < deadline)) || die "kube-controller-manager: garbage collector not started after ${TIMEOUT}s"
		sleep 0.1
	done
else
	sleep 1 && { kill -0 "$pid" 2>/dev/null || die "kube-controller-manager exited"; }
fi
log "kube-controller-manager ($CONTROLLERS) running, pid $pid"
