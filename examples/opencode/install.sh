#!/usr/bin/env bash
# Installs the real opencode server (npm package opencode-ai, which ships its
# binary) into examples/opencode/node_modules, pinned by package-lock.json.
# Only the npm registry is contacted; the server itself is kept offline when
# run (see serve.sh). Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
# `npm install --no-save`, not `npm ci`: the lock lists opencode-ai's platform packages for this
# platform only, which npm ci refuses as out of sync; nothing is written back to the lock
npm install --no-save --prefer-offline --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null
bin="$here/node_modules/.bin/opencode"
# the version check runs offline too: the switches serve.sh sets, and a throwaway HOME/TMPDIR
home="$(mktemp -d -t leakbench-opencode-install.XXXXXX)"
trap 'rm -rf "$home"' EXIT
env HOME="$home" TMPDIR="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
  XDG_CACHE_HOME="$home/.cache" XDG_STATE_HOME="$home/.local/state" OPENCODE_DISABLE_MODELS_FETCH=1 \
  OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_LSP_DOWNLOAD=1 OPENCODE_DISABLE_SHARE=1 \
  OPENCODE_DISABLE_DEFAULT_PLUGINS=1 OPENCODE_DISABLE_CLAUDE_CODE=1 "$bin" --version >/dev/null
echo "$bin"
