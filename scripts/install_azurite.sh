#!/usr/bin/env bash
# Install Azurite (the Azure Storage emulator) into <repo>/.cache/node, once.
#
# The storage tests start it from there (tests/fixtures/storage_services.py).
# Idempotent: does nothing when the pinned version is already installed.
set -euo pipefail

AZURITE_VERSION="${AZURITE_VERSION:-3.37.0}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="$REPO/.cache/node"
BIN="$PREFIX/node_modules/.bin/azurite"
PKG="$PREFIX/node_modules/azurite/package.json"

if [[ -x "$BIN" && -f "$PKG" ]] && grep -q "\"version\": \"$AZURITE_VERSION\"" "$PKG"; then
  echo "azurite $AZURITE_VERSION already installed in $PREFIX"
  exit 0
fi

command -v npm >/dev/null || { echo "npm is required (node 18+)" >&2; exit 1; }
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --no-save "azurite@$AZURITE_VERSION"
echo "azurite $AZURITE_VERSION installed in $PREFIX"
