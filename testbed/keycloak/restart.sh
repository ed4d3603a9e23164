#!/usr/bin/env bash
# Restarts a Keycloak of testbed/keycloak/start.sh in place, for fault-injection tests ("Keycloak
# restarted"): stop.sh --process-only (TERM to its process group, KILL after 20 s), then the same
# environment and command line again ($DIR/keycloak.sh: same ports, TLS, admin, instance home).
# Realms, clients, users and groups survive: they live in the H2 database in $DIR/kc/data/, and
# --import-realm skips the realm that exists already. Returns when the realm's discovery document
# answers again, as start.sh does.
#
#   testbed/keycloak/restart.sh [DIR]   # DIR: KEYCLOAK_DIR; default: the last started
#   MCP_KEYCLOAK_START_TIMEOUT          # seconds to wait (default 120)
#
# New pid in $DIR/keycloak.pid and the KEYCLOAK_PID line of $DIR/env; stop.sh works as before.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}
D=${1:-$(cat "$CACHE/keycloak/current" 2>/dev/null || true)}
D=${D%/}
TIMEOUT=${MCP_KEYCLOAK_START_TIMEOUT:-120}
T0=$(date +%s.%N)
log() { echo "keycloak-restart: $*" >&2; }
die() {
	log "ERROR: $*"
	[[ -f $D/keycloak.log ]] && { log "--- tail of $D/keycloak.log"; tail -n 25 "$D/keycloak.log" >&2; }
	exit 1
}
[[ $(basename "$D") == mcp-keycloak.* && -f $D/env ]] || die "${D:-no dir}: not a Keycloak of start.sh"
[[ -x $D/keycloak.sh ]] || die "$D has no keycloak.sh (started by an older start.sh?)"
var() { sed -n "s/^export $1=//p" "$D/env"; } # values are %q-quoted: none here needs quotes
URL=$(var KEYCLOAK_URL) ISSUER=$(var KEYCLOAK_ISSUER) CA=$(var KEYCLOAK_CA)

old=$(cat "$D/keycloak.pid" 2>/dev/null || true)
"$HERE/stop.sh" --process-only "$D"
rm -f "$D/keycloak.pid" # keycloak.sh writes the new one
setsid "$D/keycloak.sh" &
for _ in $(seq 50); do [[ -s $D/keycloak.pid ]] && break; sleep 0.1; done
[[ -s $D/keycloak.pid ]] || die "Keycloak did not start (no pid)"
pid=$(cat "$D/keycloak.pid")
sed -i "s/^export KEYCLOAK_PID=.*/export KEYCLOAK_PID=$pid/" "$D/env"

deadline=$(($(date +%s) + TIMEOUT))
until curl -fsS -m 5 --cacert "$CA" -o /dev/null "$ISSUER/.well-known/openid-configuration" 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || die "Keycloak exited"
	(($(date +%s) < deadline)) || die "no answer from $ISSUER/.well-known/openid-configuration after ${TIMEOUT}s"
	sleep 0.5
done
log "Keycloak restarted at $URL (pid $old -> $pid) in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $T0 }")s"
