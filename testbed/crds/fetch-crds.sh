#!/usr/bin/env bash
# Puts the upstream CRDs pinned in testbed/crds/pins.json into .cache/crds/ (see fetch-crds.mjs).
# Quick and offline when the cache already matches the pins; otherwise needs the go command and
# the Go module proxy. Usage: bash testbed/crds/fetch-crds.sh [--force]
set -euo pipefail
if ! command -v node >/dev/null 2>&1; then
  echo "fetch-crds: node is not on PATH (Node >= 20 is needed)" >&2
  exit 1
fi
exec node "$(dirname "${BASH_SOURCE[0]}")/fetch-crds.mjs" "$@"
