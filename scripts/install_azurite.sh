#!/usr/bin/env bash
# Install Azurite (the Azure Storage emulator) into <repo>/.cache/node, once.
#
# The storage tests start it from there (tests/fixtures/storage_services.py).
# The whole dependency tree is pinned by scripts/azurite/package-lock.json and
# installed with `npm ci --engine-strict`, so what lands is what was tested:
# azurite 3.35.0, the last release that runs on Node 20 (3.36 wants Node 21, 3.37
# Node 22), and dependencies whose own `engines` all accept Node 20.
# Idempotent: does nothing when the pinned tree is already installed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PINS="$REPO/scripts/azurite"
PREFIX="$REPO/.cache/node"
BIN="$PREFIX/node_modules/.bin/azurite-blob"
NODE_MAJOR_MIN=20

if [[ -x "$BIN" ]] && cmp -s "$PINS/package-lock.json" "$PREFIX/package-lock.json"; then
  echo "azurite (scripts/azurite/package-lock.json) already installed in $PREFIX"
  exit 0
fi

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "node and npm are required (Node $NODE_MAJOR_MIN or newer), e.g. apt-get install nodejs npm" >&2
  exit 1
}
major="$(node -p 'process.versions.node.split(".")[0]')"
if (( major < NODE_MAJOR_MIN )); then
  echo "Node $(node --version) is too old: the pinned azurite needs Node $NODE_MAJOR_MIN or newer" >&2
  exit 1
fi

# installed aside and moved in whole: a failed install never leaves a half tree behind
NEW="$PREFIX.new.$$"
trap 'rm -rf "$NEW"' EXIT
mkdir -p "$NEW"
cp "$PINS/package.json" "$PINS/package-lock.json" "$NEW/"
npm ci --prefix "$NEW" --engine-strict --no-audit --no-fund
rm -rf "$PREFIX"
mv "$NEW" "$PREFIX"
echo "azurite $(node -p "require('$PREFIX/node_modules/azurite/package.json').version") installed in $PREFIX"
