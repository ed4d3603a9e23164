#!/usr/bin/env bash
# Puts a Keycloak distribution (org.keycloak:keycloak-quarkus-dist from Maven Central, via mvn into
# ~/.m2) into the cache, built once for the options start.sh uses, and picks a Java 21+ to run it.
#
#   testbed/keycloak/fetch.sh    # cold: download + unpack + `kc.sh build`; warm: checks only (< 1 s)
#
# stdout: `export KEYCLOAK_HOME=<dist dir>` and `export KEYCLOAK_JAVA_HOME=<jdk>` (start.sh evals it);
# progress goes to stderr.
#   MCP_KEYCLOAK_VERSION     default 26.5.6; also run: 26.4.7 (use cases 1 and 2 only) and 26.7.3,
#                            see "Keycloak versions" in README.md
#   MCP_KEYCLOAK_JAVA_HOME   the JDK to use; default: the first of $JAVA_HOME, /usr/lib/jvm/*, java on
#                            PATH whose `java -version` is >= 21
#   MCP_M2_REPO              the local Maven repository mvn downloads into (default ~/.m2/repository)
# The cached dist is `kc.sh build --db=dev-file --features=jwt-authorization-grant` (build-time
# options; the preview feature is the JWT authorization grant, RFC 7523, that use case 3's
# identity chaining needs, in 26.5 and 26.6; before 26.5 it does not exist and from 26.7 on it is on
# by default, so those builds are `--db=dev-file` only; token exchange V2 is on by default) so
# start.sh can run
# `kc.sh start --optimized`: that skips the Quarkus re-augmentation `start-dev` does on every fresh
# copy (~12 s of a ~34 s start on 2 cores, see README.md). Nothing writes into the dist afterwards:
# each start.sh instance has its own Keycloak home (data, import, lib/quarkus) in its temp dir.
set -euo pipefail

VERSION=${MCP_KEYCLOAK_VERSION:-26.5.6}
# MCP_KEYCLOAK_FEATURES (set, even empty): the build's --features instead of the version's default.
CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}
OUT=$CACHE/keycloak
M2=${MCP_M2_REPO:-$HOME/.m2/repository}
# Build-time options; cache=local, truststore etc. are runtime options (start.sh).
BUILD_OPTS=(--db=dev-file)
# The JWT authorization grant: a preview feature in 26.5 (and, unchecked, 26.6), a default one in
# 26.7 (Profile$Feature type DEFAULT in 26.7.3), absent before 26.5, where `--features=` with its
# name is an unknown feature. An unparsable version keeps the flag.
if [[ $VERSION =~ ^([0-9]+)\.([0-9]+)(\.|$) ]]; then
	KC_MINOR=$((BASH_REMATCH[1] * 1000 + BASH_REMATCH[2]))
else
	KC_MINOR=26005
fi
if [[ -n ${MCP_KEYCLOAK_FEATURES+set} ]]; then
	# As a Deployment's KC_FEATURES gives them (test/e2e's pod emulation): none when empty.
	[[ -z $MCP_KEYCLOAK_FEATURES ]] || BUILD_OPTS+=(--features="$MCP_KEYCLOAK_FEATURES")
elif ((KC_MINOR >= 26005 && KC_MINOR < 26007)); then BUILD_OPTS+=(--features=jwt-authorization-grant); fi
# The dist's directory is named by its options as well as its version: a cache shared with a
# checkout that builds other options (an older branch) keeps both, so neither rebuild removes a dist
# that a running Keycloak of the other uses (its lib/ is a symlink into it). The marker file holds the
# options too: a dist whose marker differs (half-made, or an old layout) is built again, once.
OPTS_ID=$(printf '%s\n' "${BUILD_OPTS[@]}" | sha256sum | cut -c1-8)
DIST=$OUT/keycloak-$VERSION-$OPTS_ID
MARKER=.mcp-gateway-stack-build
log() { echo "keycloak-fetch: $*" >&2; }
# shellcheck source=../progress.sh
. "$(dirname "${BASH_SOURCE[0]}")/../progress.sh"
PROGRESS_PREFIX=keycloak-fetch
die() {
	progress_stop
	log "ERROR: $*"
	exit 1
}

# java_major JAVA: the feature version of `JAVA -version` (1.8.0_x -> 8, 21.0.2 -> 21), or nothing.
java_major() {
	local v
	v=$("$1" -version 2>&1 | sed -n 's/^[^"]*version "\([^"]*\)".*/\1/p' | head -n1) || true
	[[ $v == 1.* ]] && v=${v#1.}
	v=${v%%[.+_-]*}
	[[ $v =~ ^[0-9]+$ ]] && echo "$v"
}

JAVA_NEED="Keycloak ${VERSION%%.*} needs Java 21+: install a JDK 21+ (Debian: openjdk-21-jdk-headless / temurin) or set MCP_KEYCLOAK_JAVA_HOME"
if [[ -n ${MCP_KEYCLOAK_JAVA_HOME:-} ]]; then
	[[ -x $MCP_KEYCLOAK_JAVA_HOME/bin/java ]] || die "MCP_KEYCLOAK_JAVA_HOME=$MCP_KEYCLOAK_JAVA_HOME has no bin/java. $JAVA_NEED"
	m=$(java_major "$MCP_KEYCLOAK_JAVA_HOME/bin/java")
	((${m:-0} >= 21)) || die "MCP_KEYCLOAK_JAVA_HOME=$MCP_KEYCLOAK_JAVA_HOME is Java ${m:-?}. $JAVA_NEED"
	JH=$MCP_KEYCLOAK_JAVA_HOME
else
	JH=
	cands=()
	[[ -n ${JAVA_HOME:-} ]] && cands+=("$JAVA_HOME")
	for j in /usr/lib/jvm/*; do [[ -d $j ]] && cands+=("$j"); done
	if p=$(command -v java 2>/dev/null); then p=$(readlink -f "$p") && cands+=("${p%/bin/java}"); fi
	for j in "${cands[@]}"; do
		[[ -x $j/bin/java ]] || continue
		m=$(java_major "$j/bin/java")
		if ((${m:-0} >= 21)); then
			JH=$(cd "$j" && pwd -P)
			break
		fi
	done
	[[ -n $JH ]] || die "no Java 21+ found (looked at: ${cands[*]:-nothing}). $JAVA_NEED"
fi

emit() {
	printf 'export KEYCLOAK_HOME=%q\n' "$DIST"
	printf 'export KEYCLOAK_JAVA_HOME=%q\n' "$JH"
}
# Warm: the dist is there and built with the same options.
if [[ $(cat "$DIST/$MARKER" 2>/dev/null) == "${BUILD_OPTS[*]}" ]]; then
	emit
	exit 0
fi

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9 # concurrent fetches: the second waits, then finds the dist ready
if [[ $(cat "$DIST/$MARKER" 2>/dev/null) == "${BUILD_OPTS[*]}" ]]; then
	emit
	exit 0
fi

GAV=org.keycloak:keycloak-quarkus-dist:$VERSION:tar.gz
TGZ=$M2/org/keycloak/keycloak-quarkus-dist/$VERSION/keycloak-quarkus-dist-$VERSION.tar.gz
why="first run on this machine"
compgen -G "$OUT/keycloak-$VERSION-*/$MARKER" >/dev/null && why="its build options changed since the cached dist"
from="the archive in $M2"
[[ -f $TGZ ]] || from="Maven Central (~170 MB, with mvn)"
# 61 s measured cold on 2 cores (README.md, "Continuous integration"): download ~27 s, unpack and
# `kc.sh build` ~12 s, the rest Maven's own plugins.
progress_start "fetching Keycloak $VERSION" "from $from, then kc.sh build ${BUILD_OPTS[*]}; $why" "$OUT/fetch.seconds" 60
if [[ ! -f $TGZ ]]; then
	command -v mvn >/dev/null || die "mvn not found (Debian: apt-get install maven): it downloads $GAV"
	log "downloading $GAV with mvn (~160-180 MB)"
	# -Dtransitive=false: the archive only. Resolving its dependencies fails for 26.7.x (a Quarkus
	# pom that is not on Central, looked for in a repository its poms name) and is not needed.
	mvn -B -q dependency:get -Dtransitive=false -Dartifact="$GAV" >&2 || die "mvn dependency:get -Dartifact=$GAV failed"
	[[ -f $TGZ ]] || die "mvn succeeded but $TGZ is missing (another localRepository in settings.xml? set MCP_M2_REPO)"
fi
# mvn only warns on a checksum mismatch: check the .sha1 it saved from Central.
if [[ -f $TGZ.sha1 ]]; then
	want=$(cut -c1-40 "$TGZ.sha1")
	got=$(sha1sum "$TGZ" | cut -c1-40)
	[[ $want == "$got" ]] || die "$TGZ: sha1 $got, Maven Central says $want (delete it and retry)"
fi

# Unpack and build in a temp dir beside the final one, then rename: a half-made dist never shows.
TMP=$(mktemp -d "$OUT/.unpack.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
log "unpacking $(basename "$TGZ")"
tar --no-same-owner -xzf "$TGZ" -C "$TMP" || die "could not unpack $TGZ"
[[ -x $TMP/keycloak-$VERSION/bin/kc.sh ]] || die "$TGZ has no keycloak-$VERSION/bin/kc.sh"
log "kc.sh build ${BUILD_OPTS[*]} with $JH (Java $(java_major "$JH/bin/java"); ~15 s)"
JAVA_HOME=$JH JAVA_OPTS_APPEND=-XX:TieredStopAtLevel=1 "$TMP/keycloak-$VERSION/bin/kc.sh" build "${BUILD_OPTS[@]}" \
	>"$TMP/build.log" 2>&1 || {
	tail -n 20 "$TMP/build.log" >&2
	die "kc.sh build failed"
}
echo "${BUILD_OPTS[*]}" >"$TMP/keycloak-$VERSION/$MARKER"
rm -rf "$DIST"
mv "$TMP/keycloak-$VERSION" "$DIST"
progress_done
log "Keycloak $VERSION ready in $DIST"
emit
