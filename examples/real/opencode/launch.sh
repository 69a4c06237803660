#!/usr/bin/env bash
# Starts the real opencode server VERSION, offline, on loopback, for leakbench to drive:
#
#   leakbench run scenarios/opencode-churn.toml --drive opencode --isolate-network \
#       -- bash examples/real/opencode/launch.sh 1.1.56 {port}
#
# The pinned binary of examples/real/opencode/VERSION, served the way examples/opencode/serve.sh
# serves any opencode (offline switches, a throwaway HOME removed when it stops, the mock as the
# only provider).
set -euo pipefail
version="${1:?usage: launch.sh VERSION PORT}"
port="${2:?usage: launch.sh VERSION PORT}"
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/$version/node_modules/opencode-linux-x64/bin/opencode"
[[ -x "$bin" ]] || { echo "launch.sh: no opencode $version at $bin: run examples/real/opencode/install.sh $version" >&2; exit 2; }
OPENCODE_BIN="$bin" exec bash "$here/../../opencode/serve.sh" "$port"
