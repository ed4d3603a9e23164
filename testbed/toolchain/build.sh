#!/usr/bin/env bash
# Builds the Pulumi toolchain this project needs from the Go module proxy (no download site is
# reachable), caches each binary outside the repo keyed by version, installs the providers into
# $PULUMI_HOME, and writes $CACHE/toolchain/env.sh and $CACHE/toolchain/manifest.json.
# See testbed/toolchain/README.md.
#
#   testbed/toolchain/build.sh                 # all components
#   MCP_TOOLCHAIN_COMPONENTS="pulumi language-nodejs kubernetes" testbed/toolchain/build.sh
#   . "${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}/toolchain/env.sh"
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}
TC=$CACHE/toolchain
export PULUMI_HOME=${PULUMI_HOME:-$CACHE/pulumi-home}
COMPONENTS=${MCP_TOOLCHAIN_COMPONENTS:-pulumi language-nodejs kubernetes keycloak command}
RUN_START=$(date +%s)

log() { echo "toolchain: $*" >&2; }
# die COMPONENT VERSION MESSAGE...
die() {
	local c=$1 v=$2
	shift 2
	echo "toolchain: ERROR [$c $v]: $*" >&2
	exit 1
}

# --- prerequisites -----------------------------------------------------------------------------
command -v go >/dev/null || die go - "go not found on PATH: install Go >= 1.25 (the Pulumi modules need it)"
command -v node >/dev/null || die node - "node not found on PATH: install Node.js 20 (used to read package-lock.json)"
[[ -f $ROOT/package-lock.json ]] || die npm - "$ROOT/package-lock.json missing"
gov=$(go env GOVERSION) # go1.26.8
gominor=$(echo "$gov" | sed -E 's/^go1\.([0-9]+).*/\1/')
[[ $gominor =~ ^[0-9]+$ && $gominor -ge 25 ]] || die go "$gov" "Go >= 1.25 needed (found $gov)"
export GOFLAGS="${GOFLAGS:-} -trimpath"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# npm package version from package-lock.json (what the SDKs ask the engine for)
npm_version() {
	(cd "$ROOT" && node -p "(require('./package-lock.json').packages['node_modules/$1']||{}).version||''")
}

# --- versions ----------------------------------------------------------------------------------
PULUMI_VERSION=${MCP_TOOLCHAIN_PULUMI_VERSION:-$(npm_version @pulumi/pulumi)}
KUBERNETES_VERSION=${MCP_TOOLCHAIN_KUBERNETES_VERSION:-$(npm_version @pulumi/kubernetes)}
KEYCLOAK_VERSION=${MCP_TOOLCHAIN_KEYCLOAK_VERSION:-$(npm_version @pulumi/keycloak)}
COMMAND_VERSION=${MCP_TOOLCHAIN_COMMAND_VERSION:-$(npm_version @pulumi/command)}

# Provider modules have no semver tags, only pseudo-versions v<major>.0.0-<UTC commit time>-<12 hex>
# of the release tag's commit in the provider's GitHub repository. They cannot be derived here,
# so this table maps npm version -> Go module version. Only versions the module proxy serves
# belong here; "refused" entries are kept so the error says what was tried.
declare -A GOVERSION=(
	# github.com/pulumi/pulumi-kubernetes tag v4.25.0 = f47bc2d6f199 (the only version served).
	[kubernetes@4.25.0]=v4.0.0-20260115033456-f47bc2d6f199
	# github.com/pulumi/pulumi-keycloak tag v6.13.0 = d68abf5db516: refused by the proxy.
	[keycloak@6.13.0]=v6.0.0-20260801042451-d68abf5db516
	# its upstream submodule at that tag (keycloak/terraform-provider-keycloak f1724f757eb5): refused.
	[keycloak-upstream@6.13.0]=v0.0.0-20260731124423-f1724f757eb5
	# github.com/pulumi/pulumi-command tag v1.2.1 = 7f3eb6f3b77c: refused by the proxy.
	[command@1.2.1]=v0.0.0-20260303235922-7f3eb6f3b77c
)

# --- helpers -----------------------------------------------------------------------------------
mkdir -p "$TC/logs" "$TC/src" "$TC/stamps"
BUILT_NOW=()

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

# go_build COMPONENT VERSION DIR OUTPUT PACKAGE LDFLAGS: logs to $TC/logs, fails with the log tail.
go_build() {
	local c=$1 v=$2 dir=$3 out=$4 pkg=$5 ldflags=$6 logf=$TC/logs/$1-$2.log
	log "building $c $v ($pkg), log: $logf"
	if ! (cd "$dir" && go build -ldflags "-s -w $ldflags" -o "$out" "$pkg") >>"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		die "$c" "$v" "go build of $pkg failed (full log: $logf)"
	fi
}

# go_get COMPONENT VERSION DIR ARGS...: resolves the module graph of a generated module.
go_get() {
	local c=$1 v=$2 dir=$3 logf=$TC/logs/$1-$2.log
	shift 3
	if ! (cd "$dir" && go get "$@") >>"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		die "$c" "$v" "go get $* failed (full log: $logf); a module in the graph may be refused by the proxy"
	fi
}

# Stamp = what was built; a component is rebuilt when its stamp (version + our main.go) changes.
stamp_of() { echo "$1 $(cat "${@:2}" 2>/dev/null | sha256sum | cut -c1-16)"; }
is_built() { [[ -x $2 && -f $TC/stamps/$1 && $(cat "$TC/stamps/$1") == "$3" ]]; }
mark_built() {
	echo "$3" >"$TC/stamps/$1"
	echo "$2" >"$TC/stamps/$1.seconds"
	BUILT_NOW+=("$1")
}

# install_plugin NAME VERSION BINARY: into $PULUMI_HOME/plugins/resource-NAME-vVERSION/
install_plugin() {
	local name=$1 v=$2 bin=$3 dest=$PULUMI_HOME/plugins/resource-$1-v$2
	if [[ -f $dest/pulumi-resource-$name ]] && cmp -s "$bin" "$dest/pulumi-resource-$name"; then
		return
	fi
	log "installing plugin resource $name $v into $PULUMI_HOME"
	"$CLI_DIR/pulumi" plugin rm resource "$name" "$v" --yes >/dev/null 2>&1 || true
	"$CLI_DIR/pulumi" plugin install resource "$name" "$v" --file "$bin" >>"$TC/logs/plugins.log" 2>&1 ||
		die "$name" "$v" "pulumi plugin install --file $bin failed (see $TC/logs/plugins.log)"
}

# --- components --------------------------------------------------------------------------------
CLI_DIR=$TC/bin-pulumi-$PULUMI_VERSION
MANIFEST=()

build_pulumi() {
	local v=$PULUMI_VERSION c=pulumi bin=$CLI_DIR/pulumi src=$TC/src/pulumi-$PULUMI_VERSION
	[[ -n $v ]] || die $c "?" "@pulumi/pulumi not found in package-lock.json"
	local st
	st=$(stamp_of "$v" /dev/null)
	if ! is_built $c "$bin" "$st"; then
		local t0
		t0=$(date +%s)
		require_module $c "$v" "github.com/pulumi/pulumi/pkg/v3@v$v"
		# pkg/v3's go.mod replaces sdk/v3 with ../sdk, so `go install ...@v$v` is refused: build from
		# a module of our own that requires pkg/v3 and sdk/v3 at one version and copies the
		# non-local replace of pkg/go.mod.
		rm -rf "$src" && mkdir -p "$src" "$CLI_DIR"
		cat >"$src/go.mod" <<-EOF
			module mcp-gateway-stack/toolchain/pulumi-cli

			go 1.25

			replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
		EOF
		printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >"$src/tools.go"
		go_get $c "$v" "$src" "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$v" "github.com/pulumi/pulumi/sdk/v3@v$v"
		go_build $c "$v" "$src" "$bin" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
			"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v"
		mark_built $c $(($(date +%s) - t0)) "$st"
	fi
	"$bin" version >/dev/null || die $c "$v" "$bin does not run"
	MANIFEST+=("$c|github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$v|$v|$bin")
}

build_language_nodejs() {
	# Stand-in host (testbed/toolchain/pulumi-language-nodejs/main.go): the real module is refused by the
	# proxy. It lives next to `pulumi`, where the CLI looks for language hosts first.
	local v=$PULUMI_VERSION c=language-nodejs bin=$CLI_DIR/pulumi-language-nodejs
	local main=$ROOT/testbed/toolchain/pulumi-language-nodejs/main.go src=$TC/src/language-nodejs-$PULUMI_VERSION
	local st
	st=$(stamp_of "$v" "$main")
	if ! is_built $c "$bin" "$st"; then
		local t0
		t0=$(date +%s)
		rm -rf "$src" && mkdir -p "$src" "$CLI_DIR"
		cp "$main" "$src/main.go"
		printf 'module mcp-gateway-stack/toolchain/pulumi-language-nodejs\n\ngo 1.25\n' >"$src/go.mod"
		go_get $c "$v" "$src" "github.com/pulumi/pulumi/sdk/v3@v$v"
		(cd "$src" && go mod tidy) >>"$TC/logs/$c-$v.log" 2>&1 || die $c "$v" "go mod tidy failed (see $TC/logs/$c-$v.log)"
		go_build $c "$v" "$src" "$bin" . "-X main.Version=v$v"
		mark_built $c $(($(date +%s) - t0)) "$st"
	fi
	MANIFEST+=("$c|testbed/toolchain/pulumi-language-nodejs (stand-in; sdk/v3@v$v)|$v|$bin")
}

build_kubernetes() {
	local v=$KUBERNETES_VERSION c=kubernetes mod=github.com/pulumi/pulumi-kubernetes/provider/v4
	local gv=${GOVERSION[kubernetes@$v]:-}
	[[ -n $gv ]] || die $c "$v" "no Go module version known for npm @pulumi/kubernetes $v; the proxy serves only
  $mod@v4.0.0-20260115033456-f47bc2d6f199 (= tag v4.25.0): pin @pulumi/kubernetes to 4.25.0,
  or add the pseudo-version of tag v$v to the table in $0 if the proxy serves it"
	local dir=$TC/bin-$c-$v bin=$TC/bin-$c-$v/pulumi-resource-$c src=$TC/src/$c-$v
	local main=$ROOT/testbed/toolchain/pulumi-resource-kubernetes/main.go
	local st
	st=$(stamp_of "$v $gv" "$main")
	if ! is_built $c "$bin" "$st"; then
		local t0
		t0=$(date +%s)
		require_module $c "$v" "$mod@$gv"
		rm -rf "$src" && mkdir -p "$src" "$dir"
		cp "$main" "$src/main.go"
		# provider/go.mod replaces sdk/v4 with ../sdk: require the published sdk/v4 instead.
		printf 'module mcp-gateway-stack/toolchain/pulumi-resource-kubernetes\n\ngo 1.25\n' >"$src/go.mod"
		echo '{}' >"$src/schema-embed.json" && echo '{}' >"$src/terraform-mapping-embed.json"
		go_get $c "$v" "$src" "$mod/pkg/provider@$gv" "github.com/pulumi/pulumi-kubernetes/sdk/v4@v$v"
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
		go_build $c "$v" "$src" "$bin" . "-X $mod/pkg/version.Version=$v"
		mark_built $c $(($(date +%s) - t0)) "$st"
	fi
	install_plugin $c "$v" "$bin"
	MANIFEST+=("$c|$mod@$gv|$v|$bin")
}

build_keycloak() {
	local v=$KEYCLOAK_VERSION c=keycloak mod=github.com/pulumi/pulumi-keycloak/provider/v6
	local gv=${GOVERSION[keycloak@$v]:-} up=${GOVERSION[keycloak-upstream@$v]:-}
	[[ -n $gv && -n $up ]] || die $c "$v" "no Go module version known for npm @pulumi/keycloak $v (add it to the table in $0)"
	require_module $c "$v" "$mod@$gv"
	require_module $c "$v" "github.com/keycloak/terraform-provider-keycloak@$up"
	# Not reached while the proxy refuses both modules above. Once served: a module of our own that
	# requires $mod@$gv, replaces github.com/keycloak/terraform-provider-keycloak => @$up, copies
	# the other replaces of provider/go.mod, and a main calling
	# tfbridge.Main("keycloak", version, keycloak.Provider(), schema) with the committed schema.json.
	die $c "$v" "modules are served now, but the keycloak build is not written yet (see the comment in $0)"
}

build_command() {
	local v=$COMMAND_VERSION c=command mod=github.com/pulumi/pulumi-command/provider
	local gv=${GOVERSION[command@$v]:-}
	[[ -n $gv ]] || die $c "$v" "no Go module version known for npm @pulumi/command $v (add it to the table in $0)"
	local dir=$TC/bin-$c-$v bin=$TC/bin-$c-$v/pulumi-resource-$c
	local st
	st=$(stamp_of "$v $gv" /dev/null)
	if ! is_built $c "$bin" "$st"; then
		local t0
		t0=$(date +%s)
		require_module $c "$v" "$mod@$gv"
		mkdir -p "$dir"
		(GOBIN=$dir go install -ldflags "-s -w -X $mod/pkg/version.Version=v$v" "$mod/cmd/pulumi-resource-command@$gv") \
			>>"$TC/logs/$c-$v.log" 2>&1 || die $c "$v" "go install $mod/cmd/pulumi-resource-command@$gv failed (see $TC/logs/$c-$v.log)"
		mark_built $c $(($(date +%s) - t0)) "$st"
	fi
	install_plugin $c "$v" "$bin"
	MANIFEST+=("$c|$mod@$gv|$v|$bin")
}

# The CLI is needed to install plugins: build it first whatever the order asked for.
wanted() { [[ " $COMPONENTS " == *" $1 "* ]]; }
for c in $COMPONENTS; do
	case $c in pulumi | language-nodejs | kubernetes | keycloak | command) ;; *) die "$c" - "unknown component (pulumi language-nodejs kubernetes keycloak command)" ;; esac
done
if wanted pulumi || wanted kubernetes || wanted keycloak || wanted command; then build_pulumi; fi
# env.sh first, so what was built is usable even when a later component fails.
cat >"$TC/env.sh" <<EOF
# Written by testbed/toolchain/build.sh: source it before running pulumi.
export PATH="$CLI_DIR:\$PATH"
export PULUMI_HOME="$PULUMI_HOME"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_UPDATE_CHECK=true
EOF
wanted language-nodejs && build_language_nodejs
wanted kubernetes && build_kubernetes
wanted keycloak && build_keycloak
wanted command && build_command

# --- outputs -----------------------------------------------------------------------------------

# shellcheck disable=SC2016 # the single-quoted text is JavaScript
printf '%s\n' "${MANIFEST[@]}" | node -e '
	const fs = require("fs"); const [out, tc, built] = process.argv.slice(1);
	const now = new Set(built.split(" ").filter(Boolean));
	const comps = fs.readFileSync(0, "utf8").trim().split("\n").filter(Boolean).map((l) => {
		const [component, module, version, binary] = l.split("|");
		const f = `${tc}/stamps/${component}.seconds`;
		const build_seconds = fs.existsSync(f) ? Number(fs.readFileSync(f, "utf8")) : null;
		return { component, module, version, binary, build_seconds, built_this_run: now.has(component) };
	});
	fs.writeFileSync(out, JSON.stringify({ pulumi_home: process.env.PULUMI_HOME, components: comps }, null, 2) + "\n");
' "$TC/manifest.json" "$TC" "${BUILT_NOW[*]:-}"

log "done in $(($(date +%s) - RUN_START))s (built: ${BUILT_NOW[*]:-nothing, all cached}); manifest: $TC/manifest.json"
echo "export PATH=\"$CLI_DIR:\$PATH\" PULUMI_HOME=\"$PULUMI_HOME\" PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true   # or: . $TC/env.sh"
