#!/usr/bin/env bash
# Prints where ../shared/third_party is (the upstream sources no registry serves), for the scripts
# that build from it. It sits beside the repository; a clone made elsewhere (CI's fresh clone in a
# temp dir) finds it beside the repository it was cloned from. $MCP_THIRD_PARTY_DIR overrides both.
# Prints the first candidate even when none exists, so errors can name it.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
candidates=()
[[ -n ${MCP_THIRD_PARTY_DIR:-} ]] && candidates+=("$MCP_THIRD_PARTY_DIR")
candidates+=("$ROOT/../shared/third_party")
origin=$(git -C "$ROOT" config --get remote.origin.url 2>/dev/null || true)
[[ -n $origin && -d $origin ]] && candidates+=("$origin/../shared/third_party")
for c in "${candidates[@]}"; do
	[[ -d $c ]] && { realpath -m "$c"; exit 0; }
done
realpath -m "${candidates[0]}"
