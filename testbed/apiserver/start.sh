#!/usr/bin/env bash
# Starts etcd, kube-apiserver and kube-controller-manager on loopback, for tests that need the
# Kubernetes API only (CRDs, server-side apply, RBAC objects). The controller-manager runs only the
# garbage collector (foreground/background deletion, ownerReferences) and the namespace controller
# (deleted namespaces go away); no kubelet or scheduler runs and nothing else reconciles (no pods,
# no Deployment rollouts, no ServiceAccount tokens). MCP_APISERVER_CONTROLLERS=none: API only;
# MCP_APISERVER_CONTROLLERS=a,b: another --controllers list.
#
#   eval "$(testbed/apiserver/start.sh)"   # stdout: KUBECONFIG=... APISERVER_DIR=... pids, URL, token
#   testbed/apiserver/stop.sh               # stops the last one started (or: stop.sh "$APISERVER_DIR")
#   testbed/apiserver/restart.sh [DIR]      # kube-apiserver again in place (fault-injection tests)
#
# Everything lives in a fresh temp dir (etcd data, keys, certs, logs, kubeconfig, kube-apiserver.sh:
# its command line, which restart.sh runs again); ports are free
# loopback ports picked at start. Needs the binaries of testbed/apiserver/build.sh, openssl, curl, node.
#
# OIDC, as the MCP Gateway's Kind cluster has it: with MCP_APISERVER_OIDC_ISSUER (an https URL, e.g.
# https://127.0.0.1:PORT/realms/mcp) and MCP_APISERVER_OIDC_CA (the CA file of its certificate), the
# apiserver also gets the oidc-* flags of the ClusterConfiguration patch in the gateway's
# config/kind/cluster.yaml (client id mcp-test/kubernetes-mcp, claims preferred_username and groups, no
# username prefix), with that issuer and CA instead of Kind's. The file: MCP_APISERVER_KIND_CONFIG, else
# config/kind/cluster.yaml at tag MCP_APISERVER_KIND_REF (default guide-fd2e9da) of testbed/gateway/checkout.sh.
# MCP_APISERVER_OIDC_CLIENT_ID replaces the client id (the audience tokens need) too: a second
# cluster trusting another realm (use case 3) is started with its issuer and its server's client id.
# The issuer need not be up at start: kube-apiserver fetches its discovery document in the background
# (at once, then every 10 s until it succeeds) and rejects OIDC tokens (401) until then.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/apiserver
TIMEOUT=${MCP_APISERVER_START_TIMEOUT:-30}
T0=$(date +%s.%N)
log() { echo "apiserver-start: $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

[[ -f $OUT/env.sh ]] || die "no binaries: run testbed/apiserver/build.sh first ($OUT/env.sh missing)"
# shellcheck source=/dev/null
. "$OUT/env.sh"
bins=("$ETCD_BIN" "$KUBE_APISERVER_BIN")
CONTROLLERS=${MCP_APISERVER_CONTROLLERS:-garbage-collector-controller,namespace-controller}
[[ $CONTROLLERS == none ]] || bins+=("${KUBE_CONTROLLER_MANAGER_BIN:-kube-controller-manager (not in $OUT/env.sh)}")
for b in "${bins[@]}"; do [[ -x $b ]] || die "$b missing: run testbed/apiserver/build.sh"; done
for c in openssl curl node; do command -v $c >/dev/null || die "$c not found (apt-get install $c)"; done
ISSUER=${MCP_APISERVER_OIDC_ISSUER:-} OIDC_CA=${MCP_APISERVER_OIDC_CA:-}
if [[ -n $ISSUER || -n $OIDC_CA ]]; then
	[[ -n $ISSUER && -n $OIDC_CA ]] || die "set MCP_APISERVER_OIDC_ISSUER and MCP_APISERVER_OIDC_CA together (issuer '$ISSUER', CA '$OIDC_CA')"
	[[ $ISSUER == https://* ]] || die "MCP_APISERVER_OIDC_ISSUER must be an https URL (kube-apiserver refuses others): $ISSUER"
	[[ -f $OIDC_CA ]] || die "MCP_APISERVER_OIDC_CA=$OIDC_CA: no such file (kube-apiserver reads it once, at start)"
	OIDC_CA=$(realpath "$OIDC_CA")
fi

D=$(mktemp -d "${TMPDIR:-/tmp}/mcp-apiserver.XXXXXX")
# On any failure below: stop what was started and remove the dir, showing the logs' tails.
fail() {
	log "ERROR: $*"
	for f in "$D"/*.log; do [[ -f $f ]] && { log "--- tail of $f"; tail -n 15 "$f" >&2; }; done
	"$HERE/stop.sh" "$D" >&2 || true
	exit 1
}

# Three free loopback ports: held open together (so they differ), then released for the servers.
# A race with another process binding one meanwhile is possible but rare: it shows as a bind error.
read -r EP PP SP < <(node -e '
	const net = require("net");
	const open = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => ok(s)); });
	Promise.all([open(), open(), open()]).then((ss) => {
		console.log(ss.map((s) => s.address().port).join(" ")); ss.forEach((s) => s.close()); });')
[[ -n $SP ]] || fail "could not pick free ports"

# Credentials: one static admin token (group system:masters passes RBAC), and the RSA key pair the
# apiserver signs and verifies service-account tokens with (its flags require one).
TOKEN=$(openssl rand -hex 32)
echo "$TOKEN,admin,admin,\"system:masters\"" >"$D/tokens.csv"
{ openssl genrsa -out "$D/sa.key" 2048 && openssl rsa -in "$D/sa.key" -pubout -out "$D/sa.pub"; } 2>/dev/null ||
	fail "openssl could not generate the service-account key"

# OIDC flags (only with MCP_APISERVER_OIDC_ISSUER): read from the gateway's Kind config.
OIDC_FLAGS=()
if [[ -n $ISSUER ]]; then
	KIND_CONFIG=${MCP_APISERVER_KIND_CONFIG:-}
	KIND_FROM=$KIND_CONFIG
	if [[ -z $KIND_CONFIG ]]; then
		ref=${MCP_APISERVER_KIND_REF:-guide-fd2e9da}
		repo=$("$HERE/../gateway/checkout.sh") || fail "testbed/gateway/checkout.sh failed"
		KIND_CONFIG=$D/kind-cluster.yaml KIND_FROM="$repo at $ref:config/kind/cluster.yaml"
		git -C "$repo" show "$ref:config/kind/cluster.yaml" >"$KIND_CONFIG" || fail "no config/kind/cluster.yaml at $ref in $repo"
	fi
	flags=$(node "$HERE/kind-oidc-flags.mjs" "$KIND_CONFIG" "$ISSUER" "$OIDC_CA" ${MCP_APISERVER_OIDC_CLIENT_ID:+"$MCP_APISERVER_OIDC_CLIENT_ID"}) ||
		fail "no OIDC flags in $KIND_FROM"
	mapfile -t OIDC_FLAGS <<<"$flags"
	log "OIDC flags from $KIND_FROM (issuer${MCP_APISERVER_OIDC_CLIENT_ID:+, client id} and CA file replaced):"
	for f in "${OIDC_FLAGS[@]}"; do log "  $f"; done
	# Only informative: the apiserver starts either way and retries the discovery every 10 s.
	curl -fsS -m 2 --cacert "$OIDC_CA" "$ISSUER/.well-known/openid-configuration" >/dev/null 2>&1 ||
		log "note: $ISSUER/.well-known/openid-configuration does not answer yet: kube-apiserver retries it every 10 s and rejects OIDC tokens until it does"
fi

# etcd: single member, loopback only; no fsync because the data is thrown away anyway.
# setsid: the servers outlive this script and get no signal from its terminal.
setsid "$ETCD_BIN" --name mcp --data-dir "$D/etcd" --unsafe-no-fsync \
	--listen-client-urls "http://127.0.0.1:$EP" --advertise-client-urls "http://127.0.0.1:$EP" \
	--listen-peer-urls "http://127.0.0.1:$PP" --initial-advertise-peer-urls "http://127.0.0.1:$PP" \
	--initial-cluster "mcp=http://127.0.0.1:$PP" --log-level warn \
	</dev/null >"$D/etcd.log" 2>&1 &
echo $! >"$D/etcd.pid"
for _ in $(seq 100); do
	curl -fsS -m 2 "http://127.0.0.1:$EP/health" >/dev/null 2>&1 && break
	kill -0 "$(cat "$D/etcd.pid")" 2>/dev/null || fail "etcd exited"
	sleep 0.1
done
curl -fsS -m 2 "http://127.0.0.1:$EP/health" >/dev/null 2>&1 || fail "etcd not healthy after 10s"

# kube-apiserver: serving cert self-signed into --cert-dir (CA + cert for 127.0.0.1, localhost;
# kept there, so a restart serves the same ones). The service CIDR and SA issuer are configuration
# values only: nothing is routed there. --shutdown-send-retry-after: on TERM, drain the short
# requests (new ones get 429 Retry-After), then give open watches 2 s; without it the HTTP server
# waits for every watch (the controller-manager's, a test's) up to --request-timeout, 60 s.
APISERVER_CMD=("$KUBE_APISERVER_BIN" --etcd-servers "http://127.0.0.1:$EP"
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$SP" --cert-dir "$D/certs"
	--token-auth-file "$D/tokens.csv" --authorization-mode RBAC
	--service-account-issuer https://kubernetes.default.svc.cluster.local
	--service-account-key-file "$D/sa.pub" --service-account-signing-key-file "$D/sa.key"
	--service-cluster-ip-range 10.96.0.0/16 --profiling=false --shutdown-send-retry-after
	${OIDC_FLAGS[@]+"${OIDC_FLAGS[@]}"})
# Its command line as a script, so restart.sh runs exactly this again (same port, certs, etcd).
{
	echo '#!/usr/bin/env bash'
	echo '# Written by testbed/apiserver/start.sh; run by it and by restart.sh, under setsid.'
	printf 'exec'
	printf ' %q' "${APISERVER_CMD[@]}"
	printf ' </dev/null >>%q 2>&1\n' "$D/kube-apiserver.log"
} >"$D/kube-apiserver.sh"
chmod +x "$D/kube-apiserver.sh"
# setsid: a child of this script is no process group leader, so setsid execs without forking and
# the script execs the server: $! is the server's pid.
setsid "$D/kube-apiserver.sh" &
echo $! >"$D/kube-apiserver.pid"

URL=https://127.0.0.1:$SP
CRT=$D/certs/apiserver.crt
deadline=$(($(date +%s) + TIMEOUT))
until [[ -f $CRT ]] && curl -fsS -m 2 --cacert "$CRT" -H "Authorization: Bearer $TOKEN" "$URL/readyz" >/dev/null 2>&1; do
	kill -0 "$(cat "$D/kube-apiserver.pid")" 2>/dev/null || fail "kube-apiserver exited"
	(($(date +%s) < deadline)) || fail "kube-apiserver not ready after ${TIMEOUT}s ($URL/readyz)"
	sleep 0.2
done

# apiserver.crt holds the serving cert followed by the CA that signed it: good as a CA bundle.
cat >"$D/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: loopback
  cluster:
    server: $URL
    certificate-authority-data: $(base64 -w0 "$CRT")
users:
- name: admin
  user:
    token: $TOKEN
contexts:
- name: loopback
  context: {cluster: loopback, user: admin}
current-context: loopback
EOF

# kube-controller-manager with only CONTROLLERS (controllers.sh; crds.sh restarts it).
KCM_PID=
if [[ $CONTROLLERS != none ]]; then
	echo "$CONTROLLERS" >"$D/controllers"
	"$HERE/controllers.sh" "$D" || fail "kube-controller-manager did not start"
	KCM_PID=$(cat "$D/kube-controller-manager.pid")
fi

cat >"$D/env" <<EOF
KUBECONFIG=$D/kubeconfig
APISERVER_DIR=$D
APISERVER_URL=$URL
APISERVER_CA=$CRT
APISERVER_TOKEN=$TOKEN
APISERVER_PID=$(cat "$D/kube-apiserver.pid")
ETCD_PID=$(cat "$D/etcd.pid")
KUBE_CONTROLLER_MANAGER_PID=$KCM_PID
ETCD_URL=http://127.0.0.1:$EP
EOF
# OIDC mode only: the issuer (users are "<issuer>#<preferred_username>") and the audience tokens need.
if [[ -n $ISSUER ]]; then
	printf 'APISERVER_OIDC_ISSUER=%s\n' "$ISSUER" >>"$D/env"
	printf 'APISERVER_OIDC_CLIENT_ID=%s\n' "$(printf '%s\n' "${OIDC_FLAGS[@]}" | sed -n 's/^--oidc-client-id=//p')" >>"$D/env"
fi
echo "$D" >"$OUT/current" # default for stop.sh and crds.sh
log "kube-apiserver $KUBE_APISERVER_VERSION${ISSUER:+ (OIDC issuer $ISSUER)} + etcd $ETCD_VERSION${KCM_PID:+ + kube-controller-manager ($CONTROLLERS)} ready at $URL in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $T0 }")s; logs in $D"
while IFS='=' read -r k v; do printf 'export %s=%q\n' "$k" "$v"; done <"$D/env"
