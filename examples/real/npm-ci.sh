#!/usr/bin/env bash
# npm ci in DIR from its package-lock.json, registry only: no install scripts (some try GitHub),
# no audit/fund/update calls, the npm cache reused when it has the tarballs. Skipped when
# node_modules already matches the lock (npm writes node_modules/.package-lock.json).
set -euo pipefail
dir="${1:?usage: npm-ci.sh DIR}"
cd "$dir"
if [[ -f node_modules/.package-lock.json ]] && [[ node_modules/.package-lock.json -nt package-lock.json ]]; then
  exit 0
fi
npm ci --ignore-scripts --prefer-offline --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null
