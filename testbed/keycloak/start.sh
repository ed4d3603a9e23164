#!/usr/bin/env bash
# Starts one Keycloak on 127.0.0.1 (HTTPS only, test CA) with the MCP Gateway's realm imported, for
# end-to-end tests.
#
#   eval "$(testbed/keycloak/start.sh GATEWAY_CHECKOUT_OR_REALM_YAML)"
#   testbed/keycloak/stop.sh [DIR]   # default: the last started
#   testbed/keycloak/restart.sh [DIR]   # the same Keycloak again in place, data kept (fault injection)
#
# REALM_SOURCE: a gateway checkout (its config/keycloak/realm-import.yaml is used) or such a YAML
# file (a ConfigMap holding the realm JSON; see extract-realm.mjs). stdout: only `export NAME=value`
# lines (KEYCLOAK_DIR, KEYCLOAK_URL, KEYCLOAK_CA, KEYCLOAK_ISSUER, KEYCLOAK_ADMIN_USER,
# KEYCLOAK_ADMIN_PASSWORD, KEYCLOAK_PID), also written to $KEYCLOAK_DIR/env; progress on stderr.
#   MCP_KEYCLOAK_START_TIMEOUT  seconds to wait for the realm's discovery document (default 120)
#   MCP_KEYCLOAK_JVM_OPTS       extra JVM options (default -XX:TieredStopAtLevel=1: C1 only, starts
#                               ~40% faster on 2 cores); MCP_KEYCLOAK_VERSION/_JAVA_HOME: see fetch.sh
#                               (start.sh runs it: the version's dist, fetched and built if missing)
#   MCP_KEYCLOAK_KEEP=1         keep the instance dir on failure (and in stop.sh)
#   MCP_KEYCLOAK_REUSE_DIR=DIR  a new pod behind the same Service: the ports, test CA, server cert
#                               and admin of the (stopped) instance DIR, with a fresh database
#   MCP_KEYCLOAK_TRUSTSTORE=F   Keycloak's truststore-paths instead of its own test CA (none: not set)
#   MCP_KEYCLOAK_FEATURES       build-time features (fetch.sh), e.g. from a Deployment's KC_FEATURES
#
# Everything lives in a fresh temp dir KEYCLOAK_DIR: ca.key/ca.crt (test CA), tls.key/tls.crt
# (server cert for IP:127.0.0.1, DNS:localhost), kc/ (this instance's Keycloak home: its own
# data/ (H2 database, import/, transaction logs), conf/, lib/quarkus/ and kc.sh; lib/lib, themes and
# providers are symlinks into the cached dist, which nothing writes to), tmp/ (java.io.tmpdir),
# keycloak.log, keycloak.pid (the process group / session leader), env, keycloak.sh (environment and
# command line, which restart.sh runs again).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}
TIMEOUT=${MCP_KEYCLOAK_START_TIMEOUT:-120}
REALM=mcp
T0=$(date +%s.%N)
log() { echo "keycloak-start: $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
elapsed() { awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $T0 }"; }

(($# == 1)) || die "usage: start.sh GATEWAY_CHECKOUT_DIR | REALM_IMPORT_YAML"
SRC=$1
if [[ -d $SRC ]]; then
	SRC=$SRC/config/keycloak/realm-import.yaml
	[[ -f $SRC ]] || die "$1 is a directory without config/keycloak/realm-import.yaml (not a gateway checkout?)"
fi
[[ -f $SRC ]] || die "$SRC: no such file"
for c in openssl curl node setsid; do command -v $c >/dev/null || die "$c not found"; done
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "MCP_KEYCLOAK_START_TIMEOUT=$TIMEOUT is not a number of seconds"

# The dist and the Java (downloads/builds on the first run only).
eval "$("$HERE/fetch.sh")"
JMAJOR=$("$KEYCLOAK_JAVA_HOME/bin/java" -version 2>&1 | sed -n 's/^[^"]*version "\([0-9]*\).*/\1/p' | head -n1)

mkdir -p "$CACHE/keycloak"
D=$(mktemp -d "${TMPDIR:-/tmp}/mcp-keycloak.XXXXXX")
# From here on, failing (or being interrupted) stops what was started and removes the dir.
fail() {
	trap - INT TERM
	log "ERROR: $*"
	[[ -f $D/keycloak.log ]] && { log "--- tail of $D/keycloak.log"; tail -n 25 "$D/keycloak.log" >&2; }
	"$HERE/stop.sh" "$D" >&2 || true
	exit 1
}
trap 'fail "interrupted"' INT TERM

# This instance's Keycloak home. kc.sh takes kc.home.dir from its own resolved path, and every
# file Keycloak writes is under it: data/ (dev-file H2 database, transaction logs, import dir) and,
# on a re-augmentation, lib/quarkus/. So those are real dirs here; the jars are shared read-only.
K=$D/kc
mkdir -p "$K/bin" "$K/lib" "$K/data/import" "$D/tmp"
cp "$KEYCLOAK_HOME/bin/kc.sh" "$K/bin/"
cp -r "$KEYCLOAK_HOME/conf" "$K/conf"
cp "$KEYCLOAK_HOME/lib/quarkus-run.jar" "$K/lib/"
cp -r "$KEYCLOAK_HOME/lib/quarkus" "$K/lib/quarkus"
ln -s "$KEYCLOAK_HOME/lib/lib" "$K/lib/lib"
ln -s "$KEYCLOAK_HOME/lib/app" "$K/lib/app"
ln -s "$KEYCLOAK_HOME/providers" "$K/providers"
ln -s "$KEYCLOAK_HOME/themes" "$K/themes"

realms=$(node "$HERE/extract-realm.mjs" "$SRC" "$K/data/import" | paste -sd " ") || fail "could not extract the realm JSON from $SRC"
[[ " $realms " == *" $REALM "* ]] || fail "$SRC has no realm named $REALM (found: $realms)"

REUSE=${MCP_KEYCLOAK_REUSE_DIR:-}
if [[ -n $REUSE ]]; then
	[[ -f $REUSE/ports && -f $REUSE/env ]] || fail "MCP_KEYCLOAK_REUSE_DIR=$REUSE: not an instance dir of start.sh"
	cp "$REUSE/ca.key" "$REUSE/ca.crt" "$REUSE/tls.key" "$REUSE/tls.crt" "$D/"
fi
# Test CA and a server cert signed by it.
[[ -n $REUSE ]] || {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -out "$D/ca.crt" -days 7 \
		-subj "/CN=mcp-gateway-stack test CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" &&
		openssl req -newkey rsa:2048 -nodes -keyout "$D/tls.key" -out "$D/tls.csr" -subj "/CN=127.0.0.1" &&
		openssl x509 -req -in "$D/tls.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" -CAcreateserial -days 7 \
			-out "$D/tls.crt" -extfile <(printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
				"basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
				"extendedKeyUsage=serverAuth")
} >"$D/openssl.log" 2>&1 || fail "openssl: $(tail -n 3 "$D/openssl.log")"

# Free loopback ports, held together so they differ, then released for Keycloak: HTTPS, plus the
# HTTP and management ports (HTTP is disabled and nothing is exposed on the management interface,
# so neither is opened; they are set so a changed default could never bind 8080/9000).
if [[ -n $REUSE ]]; then read -r PORT HTTP_PORT MGMT_PORT <"$REUSE/ports"; else read -r PORT HTTP_PORT MGMT_PORT < <(node -e '
	const net = require("net");
	const open = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => ok(s)); });
	Promise.all([open(), open(), open()]).then((ss) => {
		console.log(ss.map((s) => s.address().port).join(" ")); ss.forEach((s) => s.close()); });'); fi
echo "$PORT $HTTP_PORT $MGMT_PORT" >"$D/ports"
[[ -n ${MGMT_PORT:-} ]] || fail "could not pick free ports"

URL=https://127.0.0.1:$PORT
ADMIN_USER="admin"
if [[ -n $REUSE ]]; then
	ADMIN_PASSWORD=$(. "$REUSE/env" && printf %s "$KEYCLOAK_ADMIN_PASSWORD")
else
	ADMIN_PASSWORD=$(openssl rand -hex 16)
fi
JOPTS="-Djava.io.tmpdir=$D/tmp --add-opens=java.base/java.lang=ALL-UNNAMED ${MCP_KEYCLOAK_JVM_OPTS--XX:TieredStopAtLevel=1}"
# Java 24+ warns about sun.misc.Unsafe (netty); the option exists since 23.
((${JMAJOR:-0} >= 23)) && JOPTS="$JOPTS --sun-misc-unsafe-memory-access=allow"

# `start --optimized`: production mode on the dist fetch.sh built (db=dev-file; on 26.5/26.6 the
# preview feature jwt-authorization-grant, on by default from 26.7). cache=local: no JGroups cluster
# (it would listen on all interfaces). H2 (dev-file) also opens a loopback port. truststore-paths:
# Keycloak's own outgoing HTTPS trusts the test CA, so a realm whose identity provider is another
# realm of this server (use case 3's JWT authorization grant) can fetch that realm's JWKS from
# https://127.0.0.1:PORT; without it the grant fails with "Invalid signature" and nothing in the log.
# --import-realm skips a realm that exists already (its default strategy), and the bootstrap admin
# is created only in an empty database: run again (restart.sh), this keeps all data in kc/data/.
KC_CMD=("$K/bin/kc.sh" start --optimized
	--import-realm --cache=local
	--http-enabled=false --http-host=127.0.0.1 --http-port="$HTTP_PORT" --https-port="$PORT"
	--http-management-port="$MGMT_PORT"
	--hostname="$URL"
	--https-certificate-file="$D/tls.crt" --https-certificate-key-file="$D/tls.key")
# A pod with no truststore (MCP_KEYCLOAK_TRUSTSTORE=none) trusts only the JDK's CAs, not the test CA.
TRUST=${MCP_KEYCLOAK_TRUSTSTORE:-$D/ca.crt}
[[ $TRUST == none ]] || KC_CMD+=(--truststore-paths="$TRUST")
# The environment and command line as a script, so restart.sh runs exactly this again. It writes
# its own pid (the session and group id once setsid ran it, whatever setsid did) and appends to the log.
{
	echo '#!/usr/bin/env bash'
	echo '# Written by testbed/keycloak/start.sh; run by it and by restart.sh, under setsid.'
	# shellcheck disable=SC2016 # $$: the script's own pid
	printf 'echo $$ >%q\n' "$D/keycloak.pid"
	printf 'export %s=%q\n' KC_BOOTSTRAP_ADMIN_USERNAME "$ADMIN_USER" KC_BOOTSTRAP_ADMIN_PASSWORD "$ADMIN_PASSWORD" \
		JAVA_HOME "$KEYCLOAK_JAVA_HOME" JAVA_OPTS_APPEND "$JOPTS"
	printf 'exec'
	printf ' %q' "${KC_CMD[@]}"
	printf ' </dev/null >>%q 2>&1\n' "$D/keycloak.log"
} >"$D/keycloak.sh"
chmod 700 "$D/keycloak.sh" # holds the admin password, as env does

# setsid: Keycloak outlives this script, gets no signal from its terminal, and is a process group
# of its own (kc.sh and its java) that stop.sh signals as a whole.
log "starting Keycloak (${KEYCLOAK_HOME##*/}, Java $JMAJOR from $KEYCLOAK_JAVA_HOME) on $URL, instance dir $D"
setsid "$D/keycloak.sh" &
for _ in $(seq 50); do [[ -s $D/keycloak.pid ]] && break; sleep 0.1; done
[[ -s $D/keycloak.pid ]] || fail "Keycloak did not start (no pid)"
PID=$(cat "$D/keycloak.pid")

DISCOVERY=$URL/realms/$REALM/.well-known/openid-configuration
deadline=$(($(date +%s) + TIMEOUT))
until curl -fsS -m 5 --cacert "$D/ca.crt" -o "$D/discovery.json" "$DISCOVERY" 2>/dev/null; do
	kill -0 "$PID" 2>/dev/null || fail "Keycloak exited"
	(($(date +%s) < deadline)) || fail "no answer from $DISCOVERY after ${TIMEOUT}s"
	sleep 0.5
done
ISSUER=$URL/realms/$REALM
got=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).issuer)' "$D/discovery.json")
[[ $got == "$ISSUER" ]] || fail "discovery issuer is $got, expected $ISSUER"

{
	printf 'export KEYCLOAK_DIR=%q\n' "$D"
	printf 'export KEYCLOAK_URL=%q\n' "$URL"
	printf 'export KEYCLOAK_CA=%q\n' "$D/ca.crt"
	printf 'export KEYCLOAK_ISSUER=%q\n' "$ISSUER"
	printf 'export KEYCLOAK_ADMIN_USER=%q\n' "$ADMIN_USER"
	printf 'export KEYCLOAK_ADMIN_PASSWORD=%q\n' "$ADMIN_PASSWORD"
	printf 'export KEYCLOAK_PID=%q\n' "$PID"
} >"$D/env"
echo "$D" >"$CACHE/keycloak/current" # default for stop.sh
trap - INT TERM
log "Keycloak ready at $URL (realms: $realms) in $(elapsed)s; log $D/keycloak.log"
cat "$D/env"
