#!/usr/bin/env bash
# Installs the real opencode server (npm package opencode-ai, which ships its
# binary) into examples/opencode/node_modules, pinned by package-lock.json.
# Only the npm registry is contacted; the server itself is kept offline when
# run (see run-opencode.sh). Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
bin="$here/node_modules/.bin/opencode"
"$bin" --version >/dev/null
echo "$bin"
