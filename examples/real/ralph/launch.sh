#!/usr/bin/env bash
# Runs the real ralph 0.1.3 (a Bun TUI, the first report's loop client) against leakbench's mock.
#
#   leakbench run examples/scenarios/ralph.toml --pty --isolate-network -- bash examples/real/ralph/launch.sh
#
# ralph attaches to a hard-coded 127.0.0.1:4190 or spawns `opencode serve` from PATH and reads
# "opencode server listening on URL" from its stdout: a fake `opencode` on PATH prints the mock's
# URL (the mock speaks the opencode protocol) and sleeps. ralph wants a git repo and a plan.md,
# and a terminal (--pty). Everything it writes (HOME, TMPDIR, Bun's extracted .so files) lives in
# the scenario workspace, which leakbench removes after the run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${RALPH_BIN:-$here/node_modules/@hona/ralph-cli-linux-x64/bin/ralph}"
[[ -x "$bin" ]] || { echo "launch.sh: no ralph at $bin: run examples/real/ralph/install.sh" >&2; exit 2; }
ws="${LEAKBENCH_WORKSPACE:?launch.sh: LEAKBENCH_WORKSPACE is not set (run it through leakbench)}"
url="${LEAKBENCH_URL:?launch.sh: LEAKBENCH_URL is not set (run it through leakbench)}"
case "$url" in
  http://127.0.0.1:*) ;;
  *) echo "launch.sh: LEAKBENCH_URL=$url is not loopback; refusing" >&2; exit 2 ;;
esac

state="$ws/.real-ralph"
mkdir -p "$state/bin" "$state/home" "$state/tmp"
cat > "$state/bin/opencode" <<SH
#!/bin/sh
# leakbench's stand-in for \`opencode serve\`: the mock is the server
echo "opencode server listening on $url"
exec sleep 2147483647
SH
chmod +x "$state/bin/opencode"
export PATH="$state/bin:$PATH" HOME="$state/home" TMPDIR="$state/tmp" XDG_CONFIG_HOME="$state/home/.config" \
  XDG_DATA_HOME="$state/home/.local/share" XDG_CACHE_HOME="$state/home/.cache" XDG_STATE_HOME="$state/home/.local/state"

cd "$ws"
if [[ ! -d .git ]]; then
  git init -q
  printf '# Plan\n\n- [ ] read the sources\n- [ ] fix every TODO\n- [ ] write the tests\n' > plan.md
  printf '.real-ralph/\n' > .gitignore
  git -c user.name=leakbench -c user.email=leakbench@localhost add -A >/dev/null
  git -c user.name=leakbench -c user.email=leakbench@localhost commit -qm "leakbench workspace" >/dev/null
fi
exec "$bin" --model leakbench/mock
