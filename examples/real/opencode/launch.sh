#!/usr/bin/env bash
# Starts the real opencode server VERSION, offline, on loopback, for leakbench to drive:
#
#   leakbench run scenarios/opencode-churn.toml --drive opencode --isolate-network \
#       -- bash examples/real/opencode/launch.sh 1.1.56 {port}
#
# The OPENCODE_DISABLE_* switches keep it from fetching model lists, updates and plugins; its HOME,
# XDG dirs and TMPDIR (where Bun extracts its .so files) live in a throwaway dir removed when it
# stops; the project is the scenario workspace, with an opencode.json whose only
# provider is OpenAI-compatible and points at the mock.
set -euo pipefail
version="${1:?usage: launch.sh VERSION PORT}"
port="${2:?usage: launch.sh VERSION PORT}"
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/$version/node_modules/opencode-linux-x64/bin/opencode"
[[ -x "$bin" ]] || { echo "launch.sh: no opencode $version at $bin: run examples/real/opencode/install.sh $version" >&2; exit 2; }
ws="${LEAKBENCH_WORKSPACE:?launch.sh: LEAKBENCH_WORKSPACE is not set (run it through leakbench)}"
base_url="${OPENAI_BASE_URL:?launch.sh: OPENAI_BASE_URL is not set (run it through leakbench)}"
case "$base_url" in
  http://127.0.0.1:*) ;;
  *) echo "launch.sh: OPENAI_BASE_URL=$base_url is not loopback; refusing" >&2; exit 2 ;;
esac
# outside the project: inside it, opencode's own session storage would be part of the project it tracks
state="$(mktemp -d -t leakbench-opencode-state.XXXXXX)"
mkdir -p "$state/home" "$state/tmp"
export HOME="$state/home" TMPDIR="$state/tmp" XDG_CONFIG_HOME="$state/home/.config" XDG_DATA_HOME="$state/home/.local/share" \
  XDG_CACHE_HOME="$state/home/.cache" XDG_STATE_HOME="$state/home/.local/state"
export OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_LSP_DOWNLOAD=1 \
  OPENCODE_DISABLE_SHARE=1 OPENCODE_DISABLE_DEFAULT_PLUGINS=1 OPENCODE_DISABLE_CLAUDE_CODE=1
cat > "$ws/opencode.json" <<JSON
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
cd "$ws"
"$bin" serve --port "$port" --hostname 127.0.0.1 &
server=$!
# leakbench ends the run with SIGTERM to the process group and SIGKILL 5 s later: the server is killed
# at once (its graceful exit can outlast the grace), so the state dir is always removed
# (no `wait` in the trap: bash may never return from it there; a killed process writes nothing more)
trap 'kill -KILL "$server" 2>/dev/null; sleep 0.2; rm -rf "$state"' EXIT
trap 'exit 143' TERM INT
wait "$server"
