#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from the Go module proxy (no release
# download site is reachable here), for a loopback API server the end-to-end tests use
# (testbed/apiserver/start.sh; the controller-manager runs only the garbage collector and the
# namespace controller). Both Kubernetes binaries come from one module, so they share its Go build
# cache: the controller-manager adds only its own packages.
# Binaries are cached outside the repo, keyed by version and by the build module's files, so a
# second run starts no go command and takes well under a second.
#
#   testbed/apiserver/build.sh            # prints the binaries' paths; writes $OUT/env.sh
#
# Versions are those pinned in the build modules: testbed/apiserver/go/kube-apiserver/go.mod
# (k8s.io/kubernetes) and testbed/apiserver/go/etcd/go.mod (go.etcd.io/etcd/server/v3).
# MCP_APISERVER_KUBE_VERSION=1.36.3 / MCP_APISERVER_ETCD_VERSION=3.6.8 build another version from
# a copy of the module regenerated in the cache.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/apiserver
T0=$(date +%s)
mkdir -p "$OUT/logs" "$OUT/src"
# shellcheck source=../progress.sh
. "$ROOT/testbed/progress.sh"
PROGRESS_PREFIX=apiserver-build
BUILT= # what this run built

log() { echo "apiserver-build: $*" >&2; }
die() { # die COMPONENT VERSION MESSAGE
	echo "apiserver-build: ERROR [$1 $2]: $3" >&2
	exit 1
}
command -v go >/dev/null || die go - "go not found on PATH: install Go >= 1.25 (k8s.io/kubernetes v1.35 needs it)"
# -trimpath: no local paths in the binaries; the go line of each module must be met by this Go.
export GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# Version of MODULE required in a go.mod (without the v).
required() { awk -v m="$2" '($1 == m && $2 != "=>") || ($1 == "require" && $2 == m) { v = ($1 == m) ? $2 : $3 } END { sub(/^v/, "", v); print v }' "$1"; }

# Module's go.mod from the proxy (for the override path): prints its path, fails clearly.
modfile() {
	local out
	out=$(go mod download -json "$2@v$3" 2>&1) || die "$1" "$3" "the Go module proxy does not serve $2@v$3:
  $(printf '%b' "$(echo "$out" | sed -n 's/.*"Error": "\(.*\)".*/\1/p' | head -1)")
  -> pick a served version: go list -m -versions $2"
	echo "$out" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p'
}

# Cold builds on 2 cores, in seconds (measured 2026-12-07; the controller-manager after the
# apiserver, sharing its build cache): the progress lines' estimate before a first build here.
typical_seconds() { case $1 in kube-apiserver) echo 300 ;; kube-controller-manager) echo 80 ;; *) echo 45 ;; esac; }

# build NAME VERSION MODULE_DIR PACKAGE LDFLAGS: go build into $OUT/bin-NAME-VERSION/NAME unless
# the stamp (version, ldflags, hash of the module's go.mod/go.sum/tools.go) says it is there.
build() {
	local name=$1 v=$2 dir=$3 pkg=$4 ld=$5 bin=$OUT/bin-$1-$2/$1 logf=$OUT/logs/$1-$2.log st
	st="$v $(cat "$dir"/go.mod "$dir"/go.sum "$dir"/tools.go | sha256sum | cut -c1-16) $ld"
	[[ -x $bin && -f $bin.stamp && $(cat "$bin.stamp") == "$st" ]] && return
	local why="first run on this machine"
	[[ ! -f $bin.stamp ]] || why="its go.mod, go.sum or flags changed since the cached build"
	mkdir -p "$(dirname "$bin")"
	: >"$logf"
	if ! (cd "$dir" && progress_run "building $name $v" "from the Go module proxy, for the loopback API server; $why; log: $logf" \
		"$bin.seconds" "$(typical_seconds "$name")" "$logf" go build -ldflags "-s -w $ld" -o "$bin.tmp" "$pkg"); then
		tail -n 25 "$logf" >&2
		die "$name" "$v" "go build $pkg failed in $dir (full log: $logf).
  A 'requires go >=' line means a newer Go is needed; a download error means the proxy lacks a module:
  choose another version (see the header of $0)"
	fi
	mv "$bin.tmp" "$bin" && echo "$st" >"$bin.stamp"
	BUILT+=" $name"
}

# --- kube-apiserver ---------------------------------------------------------------------------
KDIR=$ROOT/testbed/apiserver/go/kube-apiserver
KV=$(required "$KDIR/go.mod" k8s.io/kubernetes)
if [[ -n ${MCP_APISERVER_KUBE_VERSION:-} && ${MCP_APISERVER_KUBE_VERSION#v} != "$KV" ]]; then
	KV=${MCP_APISERVER_KUBE_VERSION#v}
	KDIR=$OUT/src/kube-apiserver-$KV
	# (Re)generated when missing or made from another tools.go (e.g. before kube-controller-manager).
	if [[ ! -f $KDIR/go.sum ]] || ! cmp -s "$ROOT/testbed/apiserver/go/kube-apiserver/tools.go" "$KDIR/tools.go"; then
		# Same recipe as the committed module: require k8s.io/kubernetes and replace each staging
		# module (./staging/... upstream) with its published v0.<minor>.<patch>.
		up=$(modfile kube-apiserver k8s.io/kubernetes "$KV")
		rm -rf "$KDIR" && mkdir -p "$KDIR" && cp "$ROOT/testbed/apiserver/go/kube-apiserver/tools.go" "$KDIR/"
		{
			printf 'module mcp-gateway-stack/toolchain/kube-apiserver\n\ngo %s\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' \
				"$(awk '$1 == "go" { print $2 }' "$up")" "$KV"
			awk -v s="v0.${KV#*.}" '$2 == "=>" && $3 ~ /^\.\/staging\// { printf "\t%s => %s %s\n", $1, $1, s }' "$up"
			echo ")"
		} >"$KDIR/go.mod"
		(cd "$KDIR" && go mod tidy) >"$OUT/logs/kube-apiserver-$KV.tidy.log" 2>&1 ||
			{ rm -f "$KDIR/go.sum"; die kube-apiserver "$KV" "go mod tidy failed (log: $OUT/logs/kube-apiserver-$KV.tidy.log); a staging module may not be published at v0.${KV#*.}"; }
	fi
fi
# What `kubectl version` and clients see (upstream sets the same variables in hack/lib/version.sh);
# without them the server reports v0.0.0-master.
KLD=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	KLD+=" -X $p.gitVersion=v$KV -X $p.gitMajor=${KV%%.*} -X $p.gitMinor=$(echo "$KV" | cut -d. -f2) -X $p.gitTreeState=clean"
done
build kube-apiserver "$KV" "$KDIR" k8s.io/kubernetes/cmd/kube-apiserver "${KLD# }"
build kube-controller-manager "$KV" "$KDIR" k8s.io/kubernetes/cmd/kube-controller-manager "${KLD# }"

# --- etcd -------------------------------------------------------------------------------------
EDIR=$ROOT/testbed/apiserver/go/etcd
EV=$(required "$EDIR/go.mod" go.etcd.io/etcd/server/v3)
if [[ -n ${MCP_APISERVER_ETCD_VERSION:-} && ${MCP_APISERVER_ETCD_VERSION#v} != "$EV" ]]; then
	EV=${MCP_APISERVER_ETCD_VERSION#v}
	EDIR=$OUT/src/etcd-$EV
	if [[ ! -f $EDIR/go.sum ]]; then
		modfile etcd go.etcd.io/etcd/server/v3 "$EV" >/dev/null
		rm -rf "$EDIR" && mkdir -p "$EDIR" && cp "$ROOT"/testbed/apiserver/go/etcd/{go.mod,tools.go} "$EDIR/"
		# server/v3's go.mod replaces its sibling modules with ../: require them all at one version.
		reqs=() && for m in server/v3 api/v3 client/pkg/v3 client/v3 pkg/v3; do reqs+=("-require=go.etcd.io/etcd/$m@v$EV"); done
		(cd "$EDIR" && go mod edit "${reqs[@]}" &&
			go mod tidy) >"$OUT/logs/etcd-$EV.tidy.log" 2>&1 ||
			{ rm -f "$EDIR/go.sum"; die etcd "$EV" "go mod tidy failed (log: $OUT/logs/etcd-$EV.tidy.log)"; }
	fi
fi
# kube-apiserver talks to etcd with the client its go.mod requires: keep the server on that minor.
KE=$(required "$KDIR/go.mod" go.etcd.io/etcd/client/v3)
[[ ${EV%.*} == "${KE%.*}" ]] || log "WARNING: etcd $EV with kube-apiserver $KV, whose etcd client is $KE: use etcd ${KE%.*}.x (MCP_APISERVER_ETCD_VERSION=$KE)"
build etcd "$EV" "$EDIR" go.etcd.io/etcd/server/v3 ""

# --- outputs ----------------------------------------------------------------------------------
cat >"$OUT/env.sh" <<EOF
# Written by testbed/apiserver/build.sh; read by testbed/apiserver/start.sh.
export KUBE_APISERVER_BIN="$OUT/bin-kube-apiserver-$KV/kube-apiserver" KUBE_APISERVER_VERSION="$KV"
export KUBE_CONTROLLER_MANAGER_BIN="$OUT/bin-kube-controller-manager-$KV/kube-controller-manager"
export ETCD_BIN="$OUT/bin-etcd-$EV/etcd" ETCD_VERSION="$EV"
EOF
secs() { cat "$OUT/bin-$1-$2/$1.seconds" 2>/dev/null || echo '?'; }
# Warm: one line. After a build: seconds of each binary's last build (cold: an empty Go build cache).
if [[ -z $BUILT ]]; then
	log "cached: kube-apiserver $KV, kube-controller-manager $KV, etcd $EV ($OUT)"
else
	log "done in $(($(date +%s) - T0))s; last builds: kube-apiserver $KV $(secs kube-apiserver "$KV")s, kube-controller-manager $KV $(secs kube-controller-manager "$KV")s (after kube-apiserver, sharing its build cache), etcd $EV $(secs etcd "$EV")s"
fi
grep ^export "$OUT/env.sh"
