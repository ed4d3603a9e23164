#!/usr/bin/env bash
# Provides the Pulumi toolchain this project needs: the CLI, the Node.js language host and the
# kubernetes, keycloak and command provider plugins. Per component, either takes what an installed
# `pulumi` CLI ships or downloads ("installed"), or builds it: the CLI and the kubernetes provider
# from the Go module proxy, the language host and the keycloak and command providers from the
# upstream snapshots in $MCP_THIRD_PARTY_DIR. Built binaries are cached outside the repo keyed by
# version and source hash; providers are installed into $PULUMI_HOME. Writes
# $CACHE/toolchain/env.sh and $CACHE/toolchain/manifest.json. See testbed/toolchain/README.md.
#
#   testbed/toolchain/build.sh                 # all components
#   MCP_TOOLCHAIN_COMPONENTS="pulumi language-nodejs kubernetes" testbed/toolchain/build.sh
#   MCP_TOOLCHAIN_SOURCE=built testbed/toolchain/build.sh      # auto (default) | installed | built
#   . "${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/toolchain/env.sh"
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}
TC=$CACHE/toolchain
export PULUMI_HOME=${PULUMI_HOME:-$CACHE/pulumi-home}
export PULUMI_SKIP_UPDATE_CHECK=true
COMPONENTS=${MCP_TOOLCHAIN_COMPONENTS:-pulumi language-nodejs kubernetes keycloak command}
THIRD_PARTY=$(bash "$ROOT/testbed/third-party-dir.sh")
SOURCE_MODE=${MCP_TOOLCHAIN_SOURCE:-auto}
# How long `pulumi plugin install resource NAME VERSION` (a download) may take before auto mode
# gives up on the installed path and builds instead.
INSTALL_TIMEOUT=${MCP_TOOLCHAIN_INSTALL_TIMEOUT:-90}
RUN_START=$(date +%s)
# shellcheck source=../progress.sh
. "$ROOT/testbed/progress.sh"
PROGRESS_PREFIX=toolchain

log() { echo "toolchain: $*" >&2; }
# die COMPONENT VERSION MESSAGE...
die() {
	local c=$1 v=$2
	shift 2
	progress_stop
	echo "toolchain: ERROR [$c $v]: $*" >&2
	exit 1
}

# --- prerequisites -----------------------------------------------------------------------------
case $SOURCE_MODE in auto | installed | built) ;; *) die toolchain - "MCP_TOOLCHAIN_SOURCE=$SOURCE_MODE: use auto, installed or built" ;; esac
command -v node >/dev/null || die node - "node not found on PATH: install Node.js 20 (used to read package-lock.json)"
[[ -f $ROOT/package-lock.json ]] || die npm - "$ROOT/package-lock.json missing"
export GOFLAGS="${GOFLAGS:-} -trimpath"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# Go is checked only when something has to be built: a warm run starts no go command.
GO_OK=
need_go() {
	[[ -n $GO_OK ]] && return
	command -v go >/dev/null || die "$1" "$2" "go not found on PATH: install Go >= 1.25 to build $1 (or use MCP_TOOLCHAIN_SOURCE=installed with a pulumi CLI on PATH)"
	local gov gominor
	gov=$(go env GOVERSION) # go1.26.8
	gominor=$(echo "$gov" | sed -E 's/^go1\.([0-9]+).*/\1/')
	[[ $gominor =~ ^[0-9]+$ && $gominor -ge 25 ]] || die "$1" "$2" "Go >= 1.25 needed to build $1 (found $gov)"
	GO_OK=1
}

# --- versions ----------------------------------------------------------------------------------
# npm package versions from package-lock.json (what the SDKs ask the engine for), one node call.
# shellcheck disable=SC2016 # the single-quoted text is JavaScript
mapfile -t NPMV < <(cd "$ROOT" && node -e '
	const p = require("./package-lock.json").packages;
	for (const n of process.argv.slice(1)) console.log((p["node_modules/" + n] || {}).version || "");
' @pulumi/pulumi @pulumi/kubernetes @pulumi/keycloak @pulumi/command)
PULUMI_VERSION=${MCP_TOOLCHAIN_PULUMI_VERSION:-${NPMV[0]:-}}
KUBERNETES_VERSION=${MCP_TOOLCHAIN_KUBERNETES_VERSION:-${NPMV[1]:-}}
KEYCLOAK_VERSION=${MCP_TOOLCHAIN_KEYCLOAK_VERSION:-${NPMV[2]:-}}
COMMAND_VERSION=${MCP_TOOLCHAIN_COMMAND_VERSION:-${NPMV[3]:-}}

# The kubernetes provider module has no semver tags, only pseudo-versions
# v<major>.0.0-<UTC commit time>-<12 hex> of the release tag's commit. They cannot be derived here,
# so this table maps npm version -> Go module version (only versions the module proxy serves).
declare -A GOVERSION=(
	# github.com/pulumi/pulumi-kubernetes tag v4.25.0 = f47bc2d6f199 (the only version served).
	[kubernetes@4.25.0]=v4.0.0-20260115033456-f47bc2d6f199
)

# --- helpers -----------------------------------------------------------------------------------
mkdir -p "$TC/logs" "$TC/src" "$TC/stamps"
BUILT_NOW=()
MANIFEST=()
SUMMARY=()

# require_module COMPONENT VERSION MODULE@GOVERSION: fail clearly if the proxy refuses it.
require_module() {
	local c=$1 v=$2 mv=$3 out
	if ! out=$(cd "$TC" && go mod download -json "$mv" 2>&1); then
		local err
		err=$(echo "$out" | sed -n 's/.*"Error": "\(.*\)".*/\1/p' | head -1)
		err=$(printf '%b' "${err:-$out}" | tr -s '\n\t' '  ')
		local rest
		rest=$(echo " $COMPONENTS " | sed "s/ $c / /; s/^ *//; s/ *$//")
		die "$c" "$v" "Go module $mv not available: $err
  -> pin the npm package to a version whose module the proxy serves (see the table in $0),
     or leave the component out: MCP_TOOLCHAIN_COMPONENTS=\"$rest\""
	fi
}

# Cold builds on 2 cores, in seconds (measured 2026-12-07; the language host right after the CLI,
# whose packages it shares), the progress lines' estimate when this machine has not built it yet.
typical_seconds() {
	case $1 in pulumi) echo 360 ;; language-nodejs) echo 5 ;; kubernetes) echo 720 ;; command) echo 60 ;; keycloak) echo 80 ;; *) echo 60 ;; esac
}

# start_build COMPONENT WHAT FROM: the progress line "building WHAT (from FROM; why)", then a
# heartbeat until mark_built (or die); the component's last build time is the estimate.
start_build() {
	local why="first run on this machine"
	[[ ! -f $TC/stamps/$1 ]] || why="its version or source changed since the cached build"
	progress_start "building $2" "from $3; $why" "$TC/stamps/$1.seconds" "$(typical_seconds "$1")"
}

# go_build COMPONENT VERSION DIR OUTPUT PACKAGE LDFLAGS [GO BUILD FLAGS...]: logs to $TC/logs,
# fails with the log tail.
go_build() {
	local c=$1 v=$2 dir=$3 out=$4 pkg=$5 ldflags=$6 logf=$TC/logs/$1-$2.log
	shift 6
	log "building $c $v ($pkg), log: $logf"
	if ! (cd "$dir" && go build "$@" -ldflags "-s -w $ldflags" -o "$out" "$pkg") >>"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		die "$c" "$v" "go build of $pkg in $dir failed (full log: $logf)"
	fi
}

# go_in COMPONENT VERSION DIR COMMAND...: runs a go (or any) command in DIR, logged like go_build.
go_in() {
	local c=$1 v=$2 dir=$3 logf=$TC/logs/$1-$2.log
	shift 3
	echo "+ (cd $dir && $*)" >>"$logf"
	if ! (cd "$dir" && "$@") >>"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		die "$c" "$v" "'$*' in $dir failed (full log: $logf); a module in the graph may be refused by the proxy"
	fi
}

# src_hash DIR...: hash of every file (path relative to its DIR, and content) of the trees.
src_hash() {
	local d
	for d in "$@"; do
		echo "== ${d##*/}"
		(cd "$d" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
	done | sha256sum | cut -c1-16
}

# copy_tree SRC DST: a writable copy (the third-party dir is read-only).
rm_tree() { if [[ -e $1 ]]; then chmod -R u+w "$1" && rm -rf "$1"; fi; }
copy_tree() {
	rm_tree "$2"
	mkdir -p "$(dirname "$2")"
	cp -R "$1" "$2" && chmod -R u+w "$2"
}

# Stamp = what was built: "VERSION SOURCE-HASH". A component is rebuilt when its stamp changes.
# mark_built COMPONENT STAMP: ends start_build's progress (which records stamps/COMPONENT.seconds).
is_built() { [[ -x $2 && -f $TC/stamps/$1 && $(cat "$TC/stamps/$1") == "$3" ]]; }
mark_built() {
	progress_done
	echo "$2" >"$TC/stamps/$1"
	BUILT_NOW+=("$1")
}
build_seconds() { cat "$TC/stamps/$1.seconds" 2>/dev/null || echo 0; }

# require_source COMPONENT VERSION DIR...: the third-party source of a component that needs building.
require_source() {
	local c=$1 v=$2 d
	shift 2
	for d in "$@"; do
		[[ -d $d ]] || die "$c" "$v" "needs building, but its source $d is absent.
  Set MCP_THIRD_PARTY_DIR to the folder holding pulumi-language-nodejs/, pulumi-command/ and
  pulumi-keycloak/ (now: $THIRD_PARTY), or put a pulumi CLI that can download plugins on PATH
  (MCP_TOOLCHAIN_SOURCE=installed)."
	done
}

# have_source COMPONENT VERSION BIN DIR...: true when every DIR exists; false when one is absent
# but a build of this version is cached at BIN (it is then used as is); dies otherwise.
have_source() {
	local c=$1 v=$2 bin=$3 d
	shift 3
	for d in "$@"; do
		[[ -d $d ]] && continue
		[[ -x $bin && -f $TC/stamps/$c && $(cut -d' ' -f1 "$TC/stamps/$c") == "$v" ]] && return 1
		require_source "$c" "$v" "$@"
	done
}

# third_party_stamp COMPONENT VERSION BIN DIR...: the stamp of the source (or of the cached build).
third_party_stamp() {
	if have_source "$@"; then
		echo "$2 $(src_hash "${@:4}")"
	else
		log "$1 $2: its source is absent, using the cached build $3"
		cat "$TC/stamps/$1"
	fi
}

# record COMPONENT MODULE VERSION BINARY SOURCE
record() {
	MANIFEST+=("$1|$2|$3|$4|$5")
	local how=cached
	[[ " ${BUILT_NOW[*]:-} " == *" $1 "* ]] && how="built now in $(build_seconds "$1")s"
	[[ $5 == installed ]] && how=${6:-}
	SUMMARY+=("$(printf '%-16s %-9s %-16s %s (%s)' "$1" "$3" "$5" "$4" "$how")")
}

# --- source selection --------------------------------------------------------------------------
# An installed pulumi CLI: the first on PATH that is not one of this cache's.
TC_REAL=$(realpath -m "$TC")
EXT_PULUMI=
while read -r p; do
	[[ -n $p ]] || continue
	rp=$(realpath -m "$p")
	[[ $rp == "$TC_REAL"/* ]] && continue
	EXT_PULUMI=$p
	break
done < <(type -ap pulumi || true)
if [[ $SOURCE_MODE == installed && -z $EXT_PULUMI ]]; then
	die pulumi - "MCP_TOOLCHAIN_SOURCE=installed, but there is no pulumi CLI on PATH (other than this cache's $TC)"
fi
# Set when a plugin download failed in auto mode: the other plugins are built without trying.
DOWNLOAD_BROKEN=
DOWNLOADED_NOW= # set when a plugin was downloaded this run

if [[ $SOURCE_MODE != built && -n $EXT_PULUMI ]]; then
	CLI_SOURCE=installed
	PULUMI_BIN=$EXT_PULUMI
	CLI_DIR=$(dirname "$EXT_PULUMI")
else
	CLI_SOURCE=go-module-proxy
	CLI_DIR=$TC/bin-pulumi-$PULUMI_VERSION
	PULUMI_BIN=$CLI_DIR/pulumi
fi
# ext_version: EXT_VERSION = the installed CLI's version (asked once).
EXT_VERSION=
ext_version() {
	[[ -n $EXT_VERSION ]] && return
	local out
	out=$("$EXT_PULUMI" version 2>&1) || { EXT_VERSION=$out && return 1; }
	EXT_VERSION=${out#v}
}
HOST_DIR= # set when the language host is not next to the CLI

write_env() {
	local path=$CLI_DIR
	[[ -n $HOST_DIR ]] && path=$path:$HOST_DIR
	cat >"$TC/env.sh" <<-EOF
		# Written by testbed/toolchain/build.sh: source it before running pulumi.
		export PATH="$path:\$PATH"
		export PULUMI_HOME="$PULUMI_HOME"
		export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
		export PULUMI_SKIP_UPDATE_CHECK=true
	EOF
}

# --- components --------------------------------------------------------------------------------

provide_pulumi() {
	local c=pulumi v=$PULUMI_VERSION
	if [[ $CLI_SOURCE == installed ]]; then
		ext_version || die $c "?" "the installed CLI $PULUMI_BIN does not run: $EXT_VERSION"
		record $c "installed CLI" "$EXT_VERSION" "$PULUMI_BIN" installed "on PATH"
		return
	fi
	local bin=$PULUMI_BIN src=$TC/src/pulumi-$v
	[[ -n $v ]] || die $c "?" "@pulumi/pulumi not found in package-lock.json"
	local st=$v
	if ! is_built $c "$bin" "$st"; then
		need_go $c "$v"
		start_build $c "the pulumi CLI $v" "the Go module proxy"
		require_module $c "$v" "github.com/pulumi/pulumi/pkg/v3@v$v"
		# pkg/v3's go.mod replaces sdk/v3 with ../sdk, so `go install ...@v$v` is refused: build from
		# a module of our own that requires pkg/v3 and sdk/v3 at one version and copies the
		# non-local replace of pkg/go.mod.
		rm_tree "$src" && mkdir -p "$src" "$CLI_DIR"
		cat >"$src/go.mod" <<-EOF
			module mcp-gateway-stack/toolchain/pulumi-cli

			go 1.25

			replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
		EOF
		printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >"$src/tools.go"
		go_in $c "$v" "$src" go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$v" "github.com/pulumi/pulumi/sdk/v3@v$v"
		go_build $c "$v" "$src" "$bin" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
			"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v"
		mark_built $c "$st"
	fi
	"$bin" version >/dev/null || die $c "$v" "$bin does not run"
	record $c "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$v" "$v" "$bin" go-module-proxy
}

provide_language_nodejs() {
	local c=language-nodejs v=$PULUMI_VERSION
	# Installed: the host the installed CLI ships next to itself.
	if [[ $CLI_SOURCE == installed ]]; then
		local ext=$CLI_DIR/pulumi-language-nodejs
		if [[ -x $ext ]]; then
			ext_version || true
			record $c "installed with the CLI" "$EXT_VERSION" "$ext" installed "next to $PULUMI_BIN"
			return
		fi
		[[ $SOURCE_MODE == installed ]] && die $c "$v" "MCP_TOOLCHAIN_SOURCE=installed, but $ext is missing next to the installed CLI"
		log "$c: the installed CLI has no $ext: building it"
	fi
	# Built: the real host from the third-party snapshot, placed next to the CLI (where the CLI
	# looks for language hosts first).
	local tp=$THIRD_PARTY/pulumi-language-nodejs dir=$TC/bin-$c-$v src=$TC/src/$c-$v
	local bin=$dir/pulumi-language-nodejs st
	st=$(third_party_stamp $c "$v" "$bin" "$tp")
	if ! is_built $c "$bin" "$st"; then
		need_go $c "$v"
		start_build $c "the Node.js language host $v" "$tp"
		copy_tree "$tp" "$src" && mkdir -p "$dir"
		# Its go.mod replaces pkg/v3 and sdk/v3 with paths inside the pulumi repository: use the
		# served modules at the SDK's version instead.
		go_in $c "$v" "$src" go mod edit \
			-dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
			-require "github.com/pulumi/pulumi/pkg/v3@v$v" -require "github.com/pulumi/pulumi/sdk/v3@v$v"
		go_build $c "$v" "$src" "$bin" . "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" -mod=mod
		mark_built $c "$st"
	fi
	local used=$bin
	if [[ $CLI_SOURCE == installed ]]; then
		HOST_DIR=$dir
		write_env
	else
		used=$CLI_DIR/pulumi-language-nodejs
		mkdir -p "$CLI_DIR"
		[[ $used -ef $bin ]] || ln -f "$bin" "$used" 2>/dev/null || cp -f "$bin" "$used"
	fi
	record $c "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 ($tp, sdk/v3@v$v)" "$v" "$used" third-party
}

# provide_plugin NAME VERSION BUILDER: installed (download) or built (BUILDER sets BIN, MODULE,
# SOURCE), then in $PULUMI_HOME/plugins/resource-NAME-vVERSION/. stamps/NAME.source says what is there.
provide_plugin() {
	local c=$1 v=$2 builder=$3
	local dest=$PULUMI_HOME/plugins/resource-$c-v$v srcf=$TC/stamps/$c.source
	local prev=""
	[[ -f $srcf ]] && prev=$(cat "$srcf")
	[[ -n $v ]] || die "$c" "?" "@pulumi/$c not found in package-lock.json"
	local try=
	case $SOURCE_MODE in
	installed) try=1 ;;
	# auto: keep what a previous run chose for this version (no network on warm runs); else try
	# the download when an installed CLI is there.
	auto) if [[ -n $EXT_PULUMI && -z $DOWNLOAD_BROKEN && $prev != "built $v "* ]]; then try=1; fi ;;
	esac
	if [[ -n $try ]]; then
		if [[ $prev == "installed $v" && -x $dest/pulumi-resource-$c ]]; then
			record "$c" "pulumi plugin install resource $c $v" "$v" "$dest/pulumi-resource-$c" installed "already installed"
			return
		fi
		local logf=$TC/logs/plugins.log
		"$PULUMI_BIN" plugin rm resource "$c" "$v" --yes >/dev/null 2>&1 || true
		rm -f "$srcf"
		if progress_run "downloading the $c provider plugin $v" "pulumi plugin install, at most ${INSTALL_TIMEOUT}s" "" 30 "$logf" \
			timeout "$INSTALL_TIMEOUT" "$PULUMI_BIN" plugin install resource "$c" "$v" && [[ -x $dest/pulumi-resource-$c ]]; then
			echo "installed $v" >"$srcf"
			DOWNLOADED_NOW=1
			record "$c" "pulumi plugin install resource $c $v" "$v" "$dest/pulumi-resource-$c" installed "downloaded now"
			return
		fi
		[[ $SOURCE_MODE == installed ]] && die "$c" "$v" "pulumi plugin install resource $c $v failed or took over ${INSTALL_TIMEOUT}s (see $logf)"
		log "$c $v: download failed (see $logf): building it; the other plugins are built without trying"
		DOWNLOAD_BROKEN=1
	fi
	local BIN MODULE SOURCE ST
	"$builder"
	# install into $PULUMI_HOME unless that exact build is there already
	if [[ $prev != "built $v $ST" || ! -f $dest/pulumi-resource-$c ||
		$(stat -c %s "$dest/pulumi-resource-$c") != $(stat -c %s "$BIN") ]]; then
		log "installing plugin resource $c $v into $PULUMI_HOME"
		"$PULUMI_BIN" plugin rm resource "$c" "$v" --yes >/dev/null 2>&1 || true
		"$PULUMI_BIN" plugin install resource "$c" "$v" --file "$BIN" >>"$TC/logs/plugins.log" 2>&1 ||
			die "$c" "$v" "pulumi plugin install --file $BIN failed (see $TC/logs/plugins.log)"
		echo "built $v $ST" >"$srcf"
	fi
	record "$c" "$MODULE" "$v" "$BIN" "$SOURCE"
}

build_kubernetes() {
	local v=$KUBERNETES_VERSION c=kubernetes mod=github.com/pulumi/pulumi-kubernetes/provider/v4
	local gv=${GOVERSION[kubernetes@$v]:-}
	[[ -n $gv ]] || die $c "$v" "no Go module version known for npm @pulumi/kubernetes $v; the proxy serves only
  $mod@v4.0.0-20260115033456-f47bc2d6f199 (= tag v4.25.0): pin @pulumi/kubernetes to 4.25.0,
  or add the pseudo-version of tag v$v to the table in $0 if the proxy serves it"
	local dir=$TC/bin-$c-$v src=$TC/src/$c-$v
	local main=$ROOT/testbed/toolchain/pulumi-resource-kubernetes
	BIN=$dir/pulumi-resource-$c MODULE="$mod@$gv" SOURCE=go-module-proxy
	ST="$v $gv $(src_hash "$main")"
	if ! is_built $c "$BIN" "$ST"; then
		need_go $c "$v"
		start_build $c "the kubernetes provider plugin $v" "the Go module proxy"
		require_module $c "$v" "$mod@$gv"
		rm_tree "$src" && mkdir -p "$src" "$dir"
		cp "$main/main.go" "$src/main.go"
		# provider/go.mod replaces sdk/v4 with ../sdk: require the published sdk/v4 instead.
		printf 'module mcp-gateway-stack/toolchain/pulumi-resource-kubernetes\n\ngo 1.25\n' >"$src/go.mod"
		echo '{}' >"$src/schema-embed.json" && echo '{}' >"$src/terraform-mapping-embed.json"
		go_in $c "$v" "$src" go get "$mod/pkg/provider@$gv" "github.com/pulumi/pulumi-kubernetes/sdk/v4@v$v"
		local mdir
		mdir=$(cd "$src" && go list -m -f '{{.Dir}}' "$mod")
		# What upstream's generate.go does: the committed schema with the version set, minified.
		node -e '
			const fs = require("fs"); const [src, out, ver] = process.argv.slice(1);
			const s = JSON.parse(fs.readFileSync(src + "/schema.json")); s.version = ver;
			fs.writeFileSync(out + "/schema-embed.json", JSON.stringify(s));
			const m = JSON.parse(fs.readFileSync(src + "/terraform-mapping.json"));
			fs.writeFileSync(out + "/terraform-mapping-embed.json", JSON.stringify(m));
		' "$mdir/cmd/pulumi-resource-kubernetes" "$src" "$v" ||
			die $c "$v" "cannot read schema.json/terraform-mapping.json from $mdir/cmd/pulumi-resource-kubernetes"
		go_build $c "$v" "$src" "$BIN" . "-X $mod/pkg/version.Version=$v"
		mark_built $c "$ST"
	fi
}

build_keycloak() {
	local v=$KEYCLOAK_VERSION c=keycloak mod=github.com/pulumi/pulumi-keycloak/provider/v6
	local tp=$THIRD_PARTY/pulumi-keycloak dir=$TC/bin-$c-$v src=$TC/src/$c-$v
	BIN=$dir/pulumi-resource-$c MODULE="$mod ($tp/provider + upstream)" SOURCE=third-party
	ST=$(third_party_stamp $c "$v" "$BIN" "$tp/provider" "$tp/upstream")
	if ! is_built $c "$BIN" "$ST"; then
		need_go $c "$v"
		start_build $c "the keycloak provider plugin $v" "$tp"
		# provider/go.mod replaces the Terraform provider with ../upstream: keep them side by side.
		rm_tree "$src"
		copy_tree "$tp/provider" "$src/provider" && copy_tree "$tp/upstream" "$src/upstream" && mkdir -p "$dir"
		# generate.go writes the embedded schema (schema-embed.json) with the version set.
		go_in $c "$v" "$src/provider/cmd/pulumi-resource-$c" env VERSION="$v" go run -mod=mod ./generate.go
		go_build $c "$v" "$src/provider" "$BIN" ./cmd/pulumi-resource-$c "-X $mod/pkg/version.Version=$v" -mod=mod
		mark_built $c "$ST"
	fi
}

build_command() {
	local v=$COMMAND_VERSION c=command mod=github.com/pulumi/pulumi-command/provider
	local tp=$THIRD_PARTY/pulumi-command/provider dir=$TC/bin-$c-$v src=$TC/src/$c-$v
	BIN=$dir/pulumi-resource-$c MODULE="$mod ($tp)" SOURCE=third-party
	ST=$(third_party_stamp $c "$v" "$BIN" "$tp")
	if ! is_built $c "$BIN" "$ST"; then
		need_go $c "$v"
		start_build $c "the command provider plugin $v" "$tp"
		rm_tree "$src"
		copy_tree "$tp" "$src/provider" && mkdir -p "$dir"
		go_build $c "$v" "$src/provider" "$BIN" ./cmd/pulumi-resource-$c "-X $mod/pkg/version.Version=$v" -mod=mod
		mark_built $c "$ST"
	fi
}

# The CLI is needed to install plugins: provide it first whatever the order asked for.
wanted() { [[ " $COMPONENTS " == *" $1 "* ]]; }
for c in $COMPONENTS; do
	case $c in pulumi | language-nodejs | kubernetes | keycloak | command) ;; *) die "$c" - "unknown component (pulumi language-nodejs kubernetes keycloak command)" ;; esac
done
# Fail before any long build when a third-party source that will be needed is absent.
if wanted language-nodejs && [[ $CLI_SOURCE != installed ]]; then
	have_source language-nodejs "$PULUMI_VERSION" "$TC/bin-language-nodejs-$PULUMI_VERSION/pulumi-language-nodejs" \
		"$THIRD_PARTY/pulumi-language-nodejs" || true
fi
if [[ $SOURCE_MODE == built || -z $EXT_PULUMI ]]; then
	if wanted keycloak; then
		have_source keycloak "$KEYCLOAK_VERSION" "$TC/bin-keycloak-$KEYCLOAK_VERSION/pulumi-resource-keycloak" \
			"$THIRD_PARTY/pulumi-keycloak/provider" "$THIRD_PARTY/pulumi-keycloak/upstream" || true
	fi
	if wanted command; then
		have_source command "$COMMAND_VERSION" "$TC/bin-command-$COMMAND_VERSION/pulumi-resource-command" \
			"$THIRD_PARTY/pulumi-command/provider" || true
	fi
fi
if wanted pulumi || wanted kubernetes || wanted keycloak || wanted command; then provide_pulumi; fi
# env.sh first, so what was built is usable even when a later component fails.
write_env
wanted language-nodejs && provide_language_nodejs
wanted kubernetes && provide_plugin kubernetes "$KUBERNETES_VERSION" build_kubernetes
wanted keycloak && provide_plugin keycloak "$KEYCLOAK_VERSION" build_keycloak
wanted command && provide_plugin command "$COMMAND_VERSION" build_command

# --- outputs -----------------------------------------------------------------------------------

# shellcheck disable=SC2016 # the single-quoted text is JavaScript
printf '%s\n' "${MANIFEST[@]}" | node -e '
	const fs = require("fs"); const [out, tc, built] = process.argv.slice(1);
	const now = new Set(built.split(" ").filter(Boolean));
	const comps = fs.readFileSync(0, "utf8").trim().split("\n").filter(Boolean).map((l) => {
		const [component, module, version, binary, source] = l.split("|");
		const f = `${tc}/stamps/${component}.seconds`;
		const build_seconds = source !== "installed" && fs.existsSync(f) ? Number(fs.readFileSync(f, "utf8")) : null;
		return { component, module, version, binary, source, build_seconds, built_this_run: now.has(component) };
	});
	fs.writeFileSync(out, JSON.stringify({ pulumi_home: process.env.PULUMI_HOME, components: comps }, null, 2) + "\n");
' "$TC/manifest.json" "$TC" "${BUILT_NOW[*]:-}"

# Warm: one line. After a build or a download: what came from where.
if [[ -n ${BUILT_NOW[*]:-} || -n $DOWNLOADED_NOW ]]; then
	for s in "${SUMMARY[@]}"; do log "$s"; done
	log "done in $(($(date +%s) - RUN_START))s (built: ${BUILT_NOW[*]:-nothing}); manifest: $TC/manifest.json"
else
	list=
	for m in "${MANIFEST[@]}"; do IFS='|' read -r c _ v _ <<<"$m" && list+="${list:+, }$c $v"; done
	log "cached: $list (sources and paths: $TC/manifest.json)"
fi
echo "export PATH=\"$CLI_DIR${HOST_DIR:+:$HOST_DIR}:\$PATH\" PULUMI_HOME=\"$PULUMI_HOME\" PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true   # or: . $TC/env.sh"
