#!/usr/bin/env bash
# Stops a Keycloak of testbed/keycloak/start.sh and removes its instance dir.
#   testbed/keycloak/stop.sh [DIR]   # DIR: KEYCLOAK_DIR printed by start.sh; default: the last started
#   MCP_KEYCLOAK_KEEP=1              # keep the dir (logs, data) after stopping
#   testbed/keycloak/stop.sh --process-only DIR   # stop it only: dir and `current` kept (restart.sh)
# TERM to its process group (kc.sh and its java), up to 20 s to exit, then KILL. Harmless when it
# is already stopped or the dir is gone.
set -euo pipefail

CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}
CURRENT=$CACHE/keycloak/current
log() { echo "keycloak-stop: $*" >&2; }

PROCESS_ONLY=
[[ ${1:-} != --process-only ]] || { PROCESS_ONLY=1 && shift; }
D=${1:-$(cat "$CURRENT" 2>/dev/null || true)}
[[ -n $D ]] || {
	log "nothing to stop (no DIR given, no $CURRENT)"
	exit 0
}
D=${D%/}
# Refuse to touch anything start.sh did not make.
[[ $(basename "$D") == mcp-keycloak.* ]] || {
	log "ERROR: $D is not a start.sh dir"
	exit 1
}
forget() { [[ $(cat "$CURRENT" 2>/dev/null) != "$D" ]] || rm -f "$CURRENT"; }
if [[ ! -d $D ]]; then
	log "$D is gone already"
	forget
	exit 0
fi

# alive: the live (not zombie) processes of group PGID. ours: whether one of them names this
# instance ($D/kc/...) on its command line, so a reused pid or group id of some other process is
# never signalled; once that holds, the group id cannot be reused while any member lives, so the
# wait below counts every member, including one past exit whose command line reads empty already.
alive() {
	local p st
	for p in $(pgrep -g "$PGID" 2>/dev/null); do
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue # "pid (comm) state ..."
		st=${st##*) }
		[[ $st == Z* ]] || echo "$p"
	done
	return 0
}
ours() {
	local p
	for p in $(alive); do
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF "$D/" && return 0
	done
	return 1
}
PGID=$(cat "$D/keycloak.pid" 2>/dev/null || true)
if [[ $PGID =~ ^[0-9]+$ ]] && ours; then
	kill -TERM -- "-$PGID" 2>/dev/null || true
	deadline=$((SECONDS + 20))
	while [[ -n $(alive) ]] && ((SECONDS < deadline)); do sleep 0.1; done
	if [[ -n $(alive) ]]; then
		log "still running after 20 s: KILL"
		kill -KILL -- "-$PGID" 2>/dev/null || true
		deadline=$((SECONDS + 5))
		while [[ -n $(alive) ]] && ((SECONDS < deadline)); do sleep 0.1; done
	fi
	[[ -z $(alive) ]] || {
		log "ERROR: processes $(alive | xargs) of $D survived KILL"
		exit 1
	}
	log "stopped Keycloak (process group $PGID)"
else
	log "Keycloak of $D was not running"
fi
[[ -z $PROCESS_ONLY ]] || exit 0
forget
if [[ ${MCP_KEYCLOAK_KEEP:-} == 1 ]]; then
	log "kept $D (MCP_KEYCLOAK_KEEP=1)"
else
	rm -rf "$D"
	log "removed $D"
fi
