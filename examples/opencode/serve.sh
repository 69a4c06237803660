#!/usr/bin/env bash
# Starts the real opencode server for leakbench, offline, on loopback.
#
#   leakbench run scenarios/opencode-churn.toml --drive opencode --drive-model leakbench/mock \
#       -- bash examples/opencode/serve.sh {port}
#
# opencode reaches for the internet at start (model list, updates, plugins,
# LSP downloads) unless told not to, and reads the user's real config from
# HOME: so it gets the OPENCODE_DISABLE_* switches and a throwaway HOME, and a
# project whose only provider is OpenAI-compatible and points at the mock
# (OPENAI_BASE_URL, set by leakbench). The project is the scenario workspace,
# so the bash tool's `cat {file}` reads the workspace files.
set -euo pipefail
port="${1:?usage: serve.sh PORT}"
here="$(cd "$(dirname "$0")" && pwd)"
bin="${OPENCODE_BIN:-$here/node_modules/.bin/opencode}"
[[ -x "$bin" ]] || { echo "serve.sh: no opencode at $bin: run examples/opencode/install.sh" >&2; exit 2; }
project="${LEAKBENCH_WORKSPACE:?serve.sh: LEAKBENCH_WORKSPACE is not set (run it through leakbench)}"
base_url="${OPENAI_BASE_URL:?serve.sh: OPENAI_BASE_URL is not set (run it through leakbench)}"
case "$base_url" in
  http://127.0.0.1:*|http://localhost:*) ;;
  *) echo "serve.sh: OPENAI_BASE_URL=$base_url is not loopback; refusing" >&2; exit 2 ;;
esac

# HOME, the XDG dirs and TMPDIR (where Bun extracts its .so files) in a throwaway dir outside the
# project (inside it, opencode's own session storage would be part of the project it tracks)
home="$(mktemp -d -t leakbench-opencode-home.XXXXXX)"
mkdir -p "$home/tmp"
export HOME="$home" TMPDIR="$home/tmp" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
  XDG_CACHE_HOME="$home/.cache" XDG_STATE_HOME="$home/.local/state"
export OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_LSP_DOWNLOAD=1 \
  OPENCODE_DISABLE_SHARE=1 OPENCODE_DISABLE_DEFAULT_PLUGINS=1 OPENCODE_DISABLE_CLAUDE_CODE=1

cat > "$project/opencode.json" <<JSON
{
  "autoupdate": false,
  "share": "disabled",
  "model": "leakbench/mock",
  "permission": { "bash": "allow", "edit": "allow", "webfetch": "deny" },
  "provider": {
    "leakbench": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "leakbench mock",
      "options": { "baseURL": "$base_url", "apiKey": "${OPENAI_API_KEY:-sk-leakbench-dummy}" },
      "models": { "mock": { "name": "leakbench mock", "tool_call": true } }
    }
  }
}
JSON

cd "$project"
"$bin" serve --port "$port" --hostname 127.0.0.1 &
server=$!
# leakbench ends the run with SIGTERM to the process group and SIGKILL 5 s later: the server is killed
# at once (its graceful exit can outlast the grace), so the throwaway dir is always removed
# (no `wait` in the trap: bash may never return from it there; a killed process writes nothing more)
trap 'kill -KILL "$server" 2>/dev/null; sleep 0.2; rm -rf "$home"' EXIT
trap 'exit 143' TERM INT
wait "$server"
