#!/usr/bin/env bash
# Installs ralph 0.1.3 (npm @hona/ralph-cli-linux-x64, a standalone Bun binary) pinned by
# package-lock.json. Only the npm registry is contacted; install scripts are not run. Prints the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../npm-ci.sh" "$here"
bin="$here/node_modules/@hona/ralph-cli-linux-x64/bin/ralph"
[[ -x "$bin" ]] || { echo "install.sh: $bin is missing after npm ci" >&2; exit 1; }
echo "$bin"
