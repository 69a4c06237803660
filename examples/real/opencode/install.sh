#!/usr/bin/env bash
# Installs opencode VERSION... (default: 1.1.56, the first report's, and 1.18.33, the newest on the
# registry here) under examples/real/opencode, each pinned by its package-lock.json. Only the npm
# registry is contacted, install scripts are not run (the launcher calls the platform binary from
# npm's opencode-linux-x64 package directly), and the version check runs offline.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(1.1.56 1.18.33)
for v in "${versions[@]}"; do
  [[ -f "$here/$v/package-lock.json" ]] || { echo "install.sh: no pinned opencode $v (have: $(cd "$here" && ls -d 1.*))" >&2; exit 2; }
  "$here/../npm-ci.sh" "$here/$v"
  bin="$here/$v/node_modules/opencode-linux-x64/bin/opencode"
  home="$(mktemp -d -t leakbench-opencode-install.XXXXXX)"
  got="$(env HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" XDG_CACHE_HOME="$home/.cache" \
    XDG_STATE_HOME="$home/.local/state" TMPDIR="$home" OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1 \
    OPENCODE_DISABLE_LSP_DOWNLOAD=1 OPENCODE_DISABLE_SHARE=1 OPENCODE_DISABLE_DEFAULT_PLUGINS=1 OPENCODE_DISABLE_CLAUDE_CODE=1 \
    "$bin" --version)" || { rm -rf "$home"; echo "install.sh: $bin --version failed" >&2; exit 1; }
  rm -rf "$home"
  [[ "$got" == "$v" ]] || { echo "install.sh: $bin says it is $got, not $v" >&2; exit 1; }
  echo "$bin"
done
