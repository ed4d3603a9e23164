#!/usr/bin/env bash
# Makes a git repository of the MCP Gateway available to the tests and prints its path on stdout.
# It holds four tags, the same on every machine, so tests name a tree by tag:
#
#   guide-397bf8d    kagenti/mcp-gateway 397bf8d68a67  the commit the guide was written at
#   guide-fd2e9da    kagenti/mcp-gateway fd2e9da7f320  the guide's merge (the stack's default ref)
#   main-1eeb671     kagenti/mcp-gateway 1eeb671267a8  last kagenti commit (still mcp.kagenti.com)
#   kuadrant-v0.9.0  Kuadrant/mcp-gateway c18d2db78e28 newest release (mcp.kuadrant.io/v1)
#
#   dir=$(testbed/gateway/checkout.sh)     # e.g. as the stack's cluster.repoUrl, or git -C "$dir" show TAG:PATH
#
# Source, in order:
#   1. the bundle ${MCP_GATEWAY_BUNDLE:-<repo>/../shared/third_party/mcp-gateway.bundle} when it exists
#      (offline; its commits are snapshots of the upstream trees, so their hashes differ: use the tags);
#   2. else GitHub (a CI runner): a clone of kagenti/mcp-gateway, the four upstream commits fetched by
#      hash (c18d2db from Kuadrant/mcp-gateway) and tagged with the names above.
# The repository lives in $CACHE/gateway/mcp-gateway, CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mcp-gateway-stack},
# with its work tree on branch testbed = guide-fd2e9da (so files such as config/kind/cluster.yaml can be read in place).
# Warm runs start one git command (and hash the bundle) and take a few tens of milliseconds.
# Environment: MCP_GATEWAY_BUNDLE, MCP_GATEWAY_UPSTREAM_URL / MCP_GATEWAY_KUADRANT_URL (mirrors of the two
# GitHub repositories).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${MCP_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-gateway-stack}
DIR=$CACHE/gateway/mcp-gateway
BUNDLE=${MCP_GATEWAY_BUNDLE:-$(bash "$ROOT/testbed/third-party-dir.sh")/mcp-gateway.bundle}
KAGENTI=${MCP_GATEWAY_UPSTREAM_URL:-https://github.com/kagenti/mcp-gateway.git}
KUADRANT=${MCP_GATEWAY_KUADRANT_URL:-https://github.com/Kuadrant/mcp-gateway.git}
WORKTREE_REF=guide-fd2e9da
# tag, repository, upstream commit
TAGS=(
	"guide-397bf8d $KAGENTI 397bf8d68a67e53914c5712b53bac49d15c49344"
	"guide-fd2e9da $KAGENTI fd2e9da7f320dba406fb420bffc89bd3062487e3"
	"main-1eeb671 $KAGENTI 1eeb671267a872b375ab3a7d6f29ab2448adefc5"
	"kuadrant-v0.9.0 $KUADRANT c18d2db78e2814bb13dd7318a52be4076f6327a6"
)
log() { echo "gateway-checkout: $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
command -v git >/dev/null || die "git not found (apt-get install git)"

# What the cached repository was made from: a changed bundle (or a switch of source) makes it again.
if [[ -f $BUNDLE ]]; then
	SOURCE="bundle $(sha256sum "$BUNDLE" | cut -c1-64)"
else
	SOURCE="upstream $KAGENTI $KUADRANT"
fi
names() { for t in "${TAGS[@]}"; do echo "${t%% *}"; done | sort; }
complete() { # DIR: made from SOURCE and holding every tag
	[[ -f $1/.git/mcp-source && $(cat "$1/.git/mcp-source") == "$SOURCE" ]] &&
		[[ $(git -C "$1" for-each-ref --format='%(refname:lstrip=2)' refs/tags | sort) == "$(names)" ]]
}
if complete "$DIR"; then
	echo "$DIR"
	exit 0
fi

mkdir -p "$CACHE/gateway"
# One maker at a time; a run that waited finds the repository made.
exec 9>"$CACHE/gateway/.lock"
flock 9 2>/dev/null || true
if complete "$DIR"; then
	echo "$DIR"
	exit 0
fi

T0=$(date +%s.%N)
TMP=$(mktemp -d "$CACHE/gateway/.new.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
R=$TMP/mcp-gateway
if [[ -f $BUNDLE ]]; then
	log "cloning $BUNDLE into $DIR"
	git clone --quiet --no-checkout "$BUNDLE" "$R" >&2 || die "git clone $BUNDLE failed"
	for t in "${TAGS[@]}"; do
		read -r name _ commit <<<"$t"
		# Each snapshot's message names the upstream commit whose tree it is.
		git -C "$R" log -1 --format=%B "refs/tags/$name" 2>/dev/null | grep -q "$commit" ||
			die "$BUNDLE: tag $name missing or not the snapshot of $commit"
	done
else
	log "no bundle at $BUNDLE: cloning $KAGENTI into $DIR and tagging the upstream commits"
	git clone --quiet --no-checkout "$KAGENTI" "$R" >&2 || die "git clone $KAGENTI failed"
	for t in "${TAGS[@]}"; do
		read -r name url commit <<<"$t"
		# Fetched by hash: 397bf8d is on a pull-request branch only, c18d2db in the other repository.
		if ! git -C "$R" cat-file -e "$commit^{commit}" 2>/dev/null; then
			git -C "$R" fetch --quiet --no-tags "$url" "$commit" >&2 || die "git fetch $url $commit failed"
		fi
		git -C "$R" tag -f "$name" "$commit" >/dev/null
	done
fi
# On a branch of its own, so that a clone of it checks out quietly.
git -C "$R" checkout --quiet -B testbed "$WORKTREE_REF" >&2
echo "$SOURCE" >"$R/.git/mcp-source"
complete "$R" || die "the new repository in $R lacks tags: $(git -C "$R" tag | tr '\n' ' ')"
# Swap in place; the old one (from another source) is removed afterwards.
[[ ! -e $DIR ]] || mv "$DIR" "$TMP/old"
mv "$R" "$DIR"
log "$DIR ready in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $T0 }")s (tags: $(names | tr '\n' ' '))"
echo "$DIR"
