#!/usr/bin/env bash
# The stack without a cluster: the test bed (loopback API server with the Kind config's OIDC flags,
# Keycloak from Maven Central with the guide's realm, the Pulumi toolchain) as a sandbox, and the
# stack's `pulumi up` into it (stack `sandbox`, existing-cluster mode).
#
#   npm run sandbox [-- up] [--use-case oidc|no-auth]   # default oidc; reuses what already runs
#   npm run sandbox -- status                           # what runs, on which ports, the stack's outputs
#   npm run sandbox -- down                             # pulumi destroy, then stop everything it started
#
# Everything it starts listens on 127.0.0.1 only, on free ports written to $STATE/env. After a crash
# or Ctrl-C, the next `up` reuses a part that still answers and replaces one that does not (its
# leftovers stopped first), so there is never a second API server or Keycloak; `down` is harmless
# when nothing runs. The gateway's make targets run through the test bed's stand-ins (no Kind).
# STATE=${XDG_STATE_HOME:-~/.local/state}/mcp-gateway-stack-sandbox: env, the Pulumi backend and
# passphrase, the project copy the engine runs, logs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}
STATE=${XDG_STATE_HOME:-$HOME/.local/state}/mcp-gateway-stack-sandbox
TAG=guide-397bf8d # the gateway commit the guide was written at: the stack's default ref and realm
STACK=sandbox
cmd=up use_case=
while [[ $# -gt 0 ]]; do
	case $1 in
	up | down | status) cmd=$1 ;;
	--use-case) use_case=${2:?--use-case needs oidc or no-auth}; shift ;;
	*) echo "sandbox: unknown argument '$1' (expected up, down, status, --use-case oidc|no-auth)" >&2; exit 2 ;;
	esac
	shift
done
[[ -z $use_case || $use_case == oidc || $use_case == no-auth ]] ||
	{ echo "sandbox: --use-case '$use_case': expected oidc or no-auth" >&2; exit 2; }

mkdir -p "$STATE/logs"
exec 9>"$STATE/.lock"
flock -n 9 || { echo "sandbox: another sandbox command runs (lock $STATE/.lock)" >&2; exit 1; }

T0=$(date +%s.%N)
phase_no=0
phase() { # phase N TOTAL TEXT: one progress line with the time since the last
	local now
	now=$(date +%s.%N)
	phase_no=$((phase_no + 1))
	printf 'sandbox: [%d/%d] %s (%s s)\n' "$phase_no" "$1" "$2" "$(awk -v a="$now" -v b="$T0" 'BEGIN { printf "%.1f", a - b }')"
	T0=$now
}
# Commands run without the lock's descriptor: what they leave running must not hold the lock.
quiet() { "$@" >>"$STATE/logs/sandbox.log" 2>&1 9>&-; }
# A build script, quiet but for its progress lines (testbed/progress.sh: on a cold first run what it
# builds and why, then a heartbeat every 30 s), which reach this script's stderr on descriptor 8.
# Only the builds get it: a server started with it open would hold a piped stderr open. A failed
# build shows the end of the log and stops `up`.
build() {
	MCP_PROGRESS_FD=8 "$@" 8>&2 >>"$STATE/logs/sandbox.log" 2>&1 9>&- && return
	tail -n 20 "$STATE/logs/sandbox.log" >&2
	echo "sandbox: ${*: -1} failed (log: $STATE/logs/sandbox.log)" >&2
	return 1
}
# KEY=value pairs of this sandbox; `get KEY` prints one.
get() { if [[ -f $STATE/env ]]; then sed -n "s/^$1=//p" "$STATE/env" | tail -1; fi; }
put() { { grep -v "^$1=" "$STATE/env" 2>/dev/null || true; echo "$1=$2"; } >"$STATE/env.tmp" && mv "$STATE/env.tmp" "$STATE/env"; }
alive() { [[ -n ${1:-} && -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
apiserver_alive() { local d; d=$(get APISERVER_DIR); [[ -n $d ]] && alive "$d/kube-apiserver.pid" && alive "$d/etcd.pid"; }
keycloak_alive() { local d; d=$(get KEYCLOAK_DIR); [[ -n $d ]] && alive "$d/keycloak.pid"; }
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
exports_of() { sed -n 's/^export \([A-Z_]*\)=\(.*\)$/\1=\2/p' | while IFS='=' read -r k v; do echo "$k=$(eval "printf %s $v")"; done; }

# The Pulumi engine: the toolchain's CLI, a file backend and a passphrase of this sandbox.
pulumi_env() {
	# shellcheck source=/dev/null
	. "$CACHE/toolchain/env.sh"
	export PULUMI_BACKEND_URL="file://$STATE/backend" PULUMI_CONFIG_PASSPHRASE_FILE="$STATE/passphrase"
	export PATH="$ROOT/testbed/standins:$PATH" MCP_STANDIN_DIR="$STATE/standins" XDG_STATE_HOME="$STATE/xdg-state"
	mkdir -p "$STATE/backend" "$STATE/standins" "$XDG_STATE_HOME"
	[[ -s $STATE/passphrase ]] || (umask 077 && head -c 24 /dev/urandom | base64 >"$STATE/passphrase")
}
# The pid file of the kubernetes-mcp-server the stack started, if any: the stack keeps it in its
# host-state folder, <org>/<project>/<stack>/<hash of the project dir>/kubernetes-mcp-server
# (components/hostState.ts), below the XDG_STATE_HOME pulumi_env gives the engine.
server_pidfile() {
	find "$STATE/xdg-state/mcp-gateway-stack" -path "*/mcp-gateway-stack/$STACK/*/kubernetes-mcp-server/server.pid" 2>/dev/null | head -n 1
}
in_project() { (cd "$STATE/project" && "$@" 9>&-); }
stack_exists() {
	[[ -d $STATE/project ]] || return 1
	pulumi_env
	in_project pulumi stack ls --json 2>/dev/null | grep -q "\"name\": \"$STACK\""
}

stop_all() {
	local d
	d=$(get KEYCLOAK_DIR) && [[ -n $d ]] && quiet bash "$ROOT/testbed/keycloak/stop.sh" "$d"
	d=$(get APISERVER_DIR) && [[ -n $d ]] && quiet bash "$ROOT/testbed/apiserver/stop.sh" "$d"
	rm -f "$STATE/env"
}

up() {
	local n=6 tag_dir realm kind_config
	use_case=${use_case:-$(get USE_CASE)}
	use_case=${use_case:-oidc}
	[[ $use_case == oidc ]] || n=4
	# The CRDs the API server gets beside the gateway's (AuthPolicy): crds.sh takes them from .cache/crds.
	build bash "$ROOT/testbed/toolchain/build.sh"
	build bash "$ROOT/testbed/apiserver/build.sh"
	build bash "$ROOT/testbed/crds/fetch-crds.sh"
	phase "$n" "toolchain, API server binaries and CRDs ready (log: $STATE/logs/sandbox.log)"
	tag_dir=$(bash "$ROOT/testbed/gateway/checkout.sh" 2>>"$STATE/logs/sandbox.log")
	put GATEWAY_REPO "$tag_dir"

	if [[ $use_case == oidc ]]; then
		if keycloak_alive; then
			phase "$n" "Keycloak reused: $(get KEYCLOAK_URL)"
		else
			[[ -z $(get KEYCLOAK_DIR) ]] || quiet bash "$ROOT/testbed/keycloak/stop.sh" "$(get KEYCLOAK_DIR)"
			build bash "$ROOT/testbed/keycloak/fetch.sh"
			realm=$STATE/realm-import.yaml
			git -C "$tag_dir" show "$TAG:config/keycloak/realm-import.yaml" >"$realm"
			while IFS='=' read -r k v; do put "$k" "$v"; done < <(bash "$ROOT/testbed/keycloak/start.sh" "$realm" 2>>"$STATE/logs/sandbox.log" 9>&- | exports_of)
			phase "$n" "Keycloak started: $(get KEYCLOAK_URL) (realm mcp of $TAG)"
		fi
	fi

	# The API server trusts the Keycloak of this sandbox: a new Keycloak means a new API server.
	if apiserver_alive && [[ $(get APISERVER_ISSUER) == "$(get KEYCLOAK_ISSUER)" ]]; then
		phase "$n" "API server reused: $(get APISERVER_URL)"
	else
		[[ -z $(get APISERVER_DIR) ]] || quiet bash "$ROOT/testbed/apiserver/stop.sh" "$(get APISERVER_DIR)"
		local env=()
		if [[ $use_case == oidc ]]; then
			kind_config=$STATE/kind-cluster.yaml
			git -C "$tag_dir" show "$TAG:config/kind/cluster.yaml" >"$kind_config"
			env=(MCP_APISERVER_OIDC_ISSUER="$(get KEYCLOAK_ISSUER)" MCP_APISERVER_OIDC_CA="$(get KEYCLOAK_CA)" MCP_APISERVER_KIND_CONFIG="$kind_config")
		fi
		while IFS='=' read -r k v; do put "$k" "$v"; done < <(env "${env[@]}" bash "$ROOT/testbed/apiserver/start.sh" 2>>"$STATE/logs/sandbox.log" 9>&- | exports_of)
		put APISERVER_ISSUER "$(get KEYCLOAK_ISSUER)"
		quiet bash "$ROOT/testbed/apiserver/crds.sh" "$(get APISERVER_DIR)"
		phase "$n" "API server started: $(get APISERVER_URL) (the Gateway and CRDs the gateway's setup leaves)"
	fi

	if [[ $use_case == oidc ]]; then
		# Sandbox only: direct access grants for the gateway's client, so a password grant gets a token.
		local admin client
		admin=$(curl -sf --cacert "$(get KEYCLOAK_CA)" "$(get KEYCLOAK_URL)/realms/master/protocol/openid-connect/token" \
			-d grant_type=password -d client_id=admin-cli -d username="$(get KEYCLOAK_ADMIN_USER)" \
			--data-urlencode password="$(get KEYCLOAK_ADMIN_PASSWORD)" | jq -r .access_token)
		client=$(curl -sf --cacert "$(get KEYCLOAK_CA)" -H "authorization: Bearer $admin" \
			"$(get KEYCLOAK_URL)/admin/realms/mcp/clients?clientId=mcp-gateway" | jq '.[0]')
		curl -sf --cacert "$(get KEYCLOAK_CA)" -X PUT -H "authorization: Bearer $admin" -H 'content-type: application/json' \
			"$(get KEYCLOAK_URL)/admin/realms/mcp/clients/$(jq -r .id <<<"$client")" \
			-d "$(jq '.directAccessGrantsEnabled = true' <<<"$client")"
		phase "$n" "Keycloak client mcp-gateway allows password grants (sandbox only)"
	fi

	pulumi_env
	# The project's current files; the rest of the dir (the stack's .mcp-gateway checkout) stays.
	mkdir -p "$STATE/project"
	for f in index.ts components stacks Pulumi.yaml package.json tsconfig.json; do
		rm -rf "${STATE:?}/project/$f" && cp -r "$ROOT/$f" "$STATE/project/"
	done
	[[ ! -f $STATE/Pulumi.$STACK.yaml ]] || cp "$STATE/Pulumi.$STACK.yaml" "$STATE/project/"
	ln -sfn "$ROOT/node_modules" "$STATE/project/node_modules"
	stack_exists || quiet in_project pulumi stack init "$STACK"
	[[ -n $(get MCP_PORT) ]] || put MCP_PORT "$(free_port)"
	put USE_CASE "$use_case"
	quiet in_project pulumi stack select "$STACK"
	quiet in_project pulumi config set useCase "$use_case"
	quiet in_project pulumi config set --path cluster.mode existing
	quiet in_project pulumi config set --path --secret cluster.kubeconfig "$(get KUBECONFIG)"
	quiet in_project pulumi config set --path cluster.repoUrl "$tag_dir"
	quiet in_project pulumi config set --path cluster.ref "$TAG"
	quiet in_project pulumi config set --path mcpServer.port "$(get MCP_PORT)"
	quiet in_project pulumi config set --path mcpServer.bindAddress 127.0.0.1
	if [[ $use_case == oidc ]]; then
		quiet in_project pulumi config set --path keycloak.url "$(get KEYCLOAK_URL)"
		quiet in_project pulumi config set --path keycloak.adminUser "$(get KEYCLOAK_ADMIN_USER)"
		quiet in_project pulumi config set --path --secret keycloak.adminPassword "$(get KEYCLOAK_ADMIN_PASSWORD)"
		quiet in_project pulumi config set --path keycloak.rootCaCertificate -- "$(cat "$(get KEYCLOAK_CA)")"
		# The loopback API server runs no ClusterRole aggregation: the default `view` grants nothing
		# there, so user mcp is bound to cluster-admin (sandbox only, as the e2e tests do).
		quiet in_project pulumi config set --path oidc.clusterRole cluster-admin
		quiet in_project pulumi config set --path oidc.allowClusterAdmin true
	fi
	cp "$STATE/project/Pulumi.$STACK.yaml" "$STATE/"
	phase "$n" "stack '$STACK' configured ($use_case, existing cluster)"
	if ! in_project pulumi up --yes --skip-preview --stack "$STACK" >"$STATE/logs/pulumi-up.log" 2>&1; then
		tail -n 30 "$STATE/logs/pulumi-up.log" >&2
		echo "sandbox: pulumi up failed (log: $STATE/logs/pulumi-up.log); 'npm run sandbox -- down' stops everything" >&2
		exit 1
	fi
	phase "$n" "pulumi up done: $(grep -Eo '[0-9]+ (created|updated|replaced|deleted|unchanged)' "$STATE/logs/pulumi-up.log" | paste -sd, -)"
	print_usage
}

print_usage() {
	local mcp
	mcp="http://127.0.0.1:$(get MCP_PORT)/mcp"
	echo
	echo "kubernetes-mcp-server started by the stack: $mcp"
	echo "logs: $STATE/logs (sandbox.log, pulumi-up.log), $(get APISERVER_DIR) (API server)${KEYCLOAK_LOG:+, $KEYCLOAK_LOG}$( [[ -n $(get KEYCLOAK_DIR) ]] && echo ", $(get KEYCLOAK_DIR)/keycloak.log")"
	echo
	if [[ $(get USE_CASE) == oidc ]]; then
		local basic
		basic=$(curl -sf --cacert "$(get APISERVER_CA)" -H "authorization: Bearer $(get APISERVER_TOKEN)" \
			"$(get APISERVER_URL)/api/v1/namespaces/kuadrant-system/secrets/token-exchange" |
			jq -r '.data["oauth-client-basic-auth"]' | base64 -d)
		echo "Get mcp's token, exchange it as the AuthPolicy does, and call namespaces_list with it:"
		echo "# --- commands ---"
		echo "export KEYCLOAK=$(get KEYCLOAK_URL) KEYCLOAK_CA=$(get KEYCLOAK_CA) MCP=$mcp BASIC=$basic"
		sed -n '/<!-- by-hand:start -->/,/<!-- by-hand:end -->/p' "$ROOT/README.md" | sed '1,2d;$d' | sed '$d'
		echo "# --- end ---"
	else
		echo "List the tools and call namespaces_list (no auth: the server acts with the API server's admin kubeconfig):"
		echo "# --- commands ---"
		cat <<EOF
MCP=$mcp
mcp() { curl -s --fail-with-body "\$MCP" -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' "\$@"; }
SESSION=\$(mcp -D - -o /dev/null -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' | tr -d '\r' | sed -n 's/^mcp-session-id: //Ip')
mcp -H "mcp-session-id: \$SESSION" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}' | grep -o '"name":"[a-z_]*"' | wc -l
mcp -H "mcp-session-id: \$SESSION" -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"namespaces_list","arguments":{}}}'
EOF
		echo "# --- end ---"
	fi
}

status() {
	if [[ ! -f $STATE/env ]]; then
		echo "sandbox: nothing runs (no $STATE/env)"
		return 0
	fi
	echo "use case: $(get USE_CASE)"
	if apiserver_alive; then echo "API server: running, $(get APISERVER_URL) (pid $(cat "$(get APISERVER_DIR)/kube-apiserver.pid"))"; else echo "API server: not running"; fi
	if [[ -n $(get KEYCLOAK_DIR) ]]; then
		if keycloak_alive; then echo "Keycloak: running, $(get KEYCLOAK_URL) (pid $(cat "$(get KEYCLOAK_DIR)/keycloak.pid"))"; else echo "Keycloak: not running"; fi
	fi
	local pidfile
	pidfile=$(server_pidfile)
	if alive "$pidfile"; then echo "kubernetes-mcp-server: running, http://127.0.0.1:$(get MCP_PORT)/mcp (pid $(cat "$pidfile"))"; else echo "kubernetes-mcp-server: not running"; fi
	if stack_exists; then
		pulumi_env
		echo "stack '$STACK' outputs:"
		in_project pulumi stack output --stack "$STACK" --json
	fi
}

down() {
	if [[ ! -f $STATE/env && ! -d $STATE/project ]]; then
		echo "sandbox: nothing to stop"
		return 0
	fi
	if stack_exists; then
		pulumi_env
		if apiserver_alive && { [[ $(get USE_CASE) != oidc ]] || keycloak_alive; }; then
			in_project pulumi destroy --yes --skip-preview --stack "$STACK" >"$STATE/logs/pulumi-destroy.log" 2>&1 ||
				{ tail -n 20 "$STATE/logs/pulumi-destroy.log" >&2; echo "sandbox: pulumi destroy failed (log above); run down again" >&2; exit 1; }
			phase 3 "pulumi destroy done"
		else
			# Their state went with them (etcd and Keycloak's database live in their temp dirs).
			local pidfile
			pidfile=$(server_pidfile)
			if alive "$pidfile"; then kill "$(cat "$pidfile")"; fi
			phase 3 "API server or Keycloak already gone: their objects went with them; stack state dropped"
		fi
		quiet in_project pulumi stack rm --yes --force "$STACK"
	fi
	stop_all
	phase 3 "API server and Keycloak stopped"
	rm -rf "$STATE/project" "$STATE/backend" "$STATE/Pulumi.$STACK.yaml" "$STATE/standins" "$STATE/xdg-state" \
		"$STATE/passphrase" "$STATE/realm-import.yaml" "$STATE/kind-cluster.yaml"
	phase 3 "sandbox state removed (logs kept in $STATE/logs)"
}

"$cmd"
