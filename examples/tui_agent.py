"""A TUI agent's turn loop (seed 003), leaky or fixed: flat for hours, then one huge grep.

Each turn streams an Anthropic Messages reply, runs the ``grep`` tool it asks
for (a real ``grep -rn``), and sends the result in the next request. The
report's hypothesis, reproduced by ``--leaky``: a large tool result is copied
through several stages, each holding its own copy, with no cap:

1. the tool's output buffer (kept on the tool, like shell.go's stdout buffer);
2. the message list (the result as a tool_result block);
3. the session store (each item serialised into an SQLite ``session_items``
   table, as ~/.cagent/session.db);
4. the next request (the whole history, no ``max_history_items``, serialised
   into the request body).

The fixed twin streams grep's output and stops it at 64 KB (with a note of what
was cut), and sends only the last ``max_history_items`` messages.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

TOOL_OUTPUT_CAP = 64_000
MAX_HISTORY_ITEMS = 20
TOOLS = [
    {
        "name": "grep",
        "description": "Search file contents",
        "input_schema": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}},
            "required": ["pattern"],
        },
    }
]


class Grep:
    def __init__(self, workdir: Path, leaky: bool) -> None:
        self.workdir = workdir
        self.leaky = leaky
        self.buffer = b""  # stage 1: the tool's output buffer

    def run(self, pattern: str, path: str) -> str:
        argv = ["grep", "-rn", "--", pattern, path or "."]
        if self.leaky:
            done = subprocess.run(argv, cwd=self.workdir, capture_output=True)
            self.buffer = done.stdout
            return self.buffer.decode(errors="replace")
        with subprocess.Popen(argv, cwd=self.workdir, stdout=subprocess.PIPE) as proc:
            kept, size = [], 0
            for line in proc.stdout:
                if size + len(line) > TOOL_OUTPUT_CAP:
                    proc.kill()
                    kept.append(b"[grep output truncated at 64 KB: narrow the pattern or the path]\n")
                    break
                kept.append(line)
                size += len(line)
        return b"".join(kept).decode(errors="replace")


class Store:
    """Stage 3: session items written to an SQLite file in WAL mode, as docker-agent's session.db."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        # One cursor for the session: sqlite3 before CPython 3.15 keeps a weak reference to every cursor
        # a connection made (``execute`` makes one) and sweeps the dead ones every 200th, so a cursor per
        # item is one object more per turn for 200 turns (gh-144377; docs/python.md).
        self.cursor = self.db.cursor()
        self.cursor.execute("PRAGMA journal_mode=WAL")
        self.cursor.execute("CREATE TABLE session_items (id INTEGER PRIMARY KEY, message TEXT)")

    def add(self, message: dict) -> None:
        self.cursor.execute("INSERT INTO session_items (message) VALUES (?)", (json.dumps(message),))


def stream_turn(client: httpx.Client, body: bytes) -> tuple[str, list[dict]]:
    """One streamed model turn: its stop reason and the tool_use blocks it asked for."""
    blocks: dict[int, dict] = {}
    stop = ""
    with client.stream("POST", "/v1/messages", content=body, headers={"content-type": "application/json"}) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            kind = event.get("type")
            if kind == "content_block_start":
                block = event["content_block"]
                blocks[event["index"]] = {**block, "json": ""}
            elif kind == "content_block_delta" and event["delta"].get("type") == "input_json_delta":
                blocks[event["index"]]["json"] += event["delta"]["partial_json"]
            elif kind == "message_delta":
                stop = event["delta"].get("stop_reason") or stop
    uses = [
        {"type": "tool_use", "id": b["id"], "name": b["name"], "input": json.loads(b["json"] or "{}")}
        for b in blocks.values()
        if b["type"] == "tool_use"
    ]
    return stop, uses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaky", action="store_true", help="no cap: the result is copied through every stage")
    args = parser.parse_args(argv)
    base = os.environ.get("ANTHROPIC_BASE_URL")
    if not base:
        parser.error("ANTHROPIC_BASE_URL is not set: run it through `leakbench run`")
    grep = Grep(Path(os.environ.get("LEAKBENCH_WORKSPACE", ".")), args.leaky)
    state = Path(tempfile.mkdtemp(prefix="tui-agent-"))
    atexit.register(shutil.rmtree, state, True)
    for ending in (signal.SIGTERM, signal.SIGHUP):  # how a run ends it: exit through atexit, state removed
        signal.signal(ending, lambda signum, frame: sys.exit(128 + signum))
    store = Store(state / "session.db")
    messages: list[dict] = [{"role": "user", "content": "Find where the session store is written."}]
    store.add(messages[0])
    headers = {"x-api-key": os.environ.get("ANTHROPIC_API_KEY", ""), "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        while True:
            history = messages if args.leaky else messages[-MAX_HISTORY_ITEMS:]
            # stage 4: the next request, the context window serialised whole
            body = json.dumps(
                {"model": "mock", "max_tokens": 1024, "stream": True, "tools": TOOLS, "messages": history}
            ).encode()
            stop, uses = stream_turn(client, body)
            del body
            if stop != "tool_use":
                return 0
            messages.append({"role": "assistant", "content": uses})
            results = []
            for use in uses:
                output = grep.run(use["input"].get("pattern", "."), use["input"].get("path", "."))
                results.append({"type": "tool_result", "tool_use_id": use["id"], "content": output})
            messages.append({"role": "user", "content": results})  # stage 2: the message list
            store.add(messages[-1])  # stage 3: the store
            store.db.commit()
            if not args.leaky:
                del messages[:-MAX_HISTORY_ITEMS]


if __name__ == "__main__":
    sys.exit(main())
